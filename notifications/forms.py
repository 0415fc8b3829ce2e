"""Forms of the notifications pages: email preferences and recording an absence."""

import datetime as dt

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.people import full_name


def _people():
    return (
        get_user_model().objects.filter(is_active=True, is_staff=True).order_by("first_name", "last_name", "username")
    )


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return full_name(obj)


class AbsenceForm(forms.Form):
    person = PersonChoiceField(queryset=_people(), label="Who is away", required=False)
    starts_on = forms.DateField(label="First day away", widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label="Last day away", widget=forms.DateInput(attrs={"type": "date"}))
    backup = PersonChoiceField(queryset=_people(), label="Backup (told in their place)")
    note = forms.CharField(label="Note", required=False, max_length=200)

    def __init__(self, *args, may_record_for_others: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = _people()
        self.fields["backup"].queryset = _people()
        if not may_record_for_others:
            del self.fields["person"]
        else:
            self.fields["person"].help_text = "Leave empty for yourself."
        today = timezone.localdate()
        self.fields["starts_on"].initial = today
        self.fields["ends_on"].initial = today + dt.timedelta(days=4)

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts_on"), data.get("ends_on")
        if starts and ends and ends < starts:
            self.add_error("ends_on", "The last day away must be on or after the first day.")
        return data
