"""Dots operations grouped by resource, one mixin class per module.

``dots.client.DotsClient`` inherits them all; each method sends exactly one
operation of the spec through ``ResourceBase._call``.
"""
