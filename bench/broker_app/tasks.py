def noop(n: int) -> int:
    """Does nothing: bench/broker.py measures the queue around it."""
    return n
