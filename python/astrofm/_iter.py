"""A re-iterable-once wrapper that turns the C++ reader into a Python iterator."""


class Batches:
    """Batches of a dataset as dicts of numpy arrays (one pass)."""

    def __init__(self, next_fn):
        self._next = next_fn

    def __iter__(self):
        return self

    def __next__(self):
        return self._next()
