"""Resources bound per environment in `resources/environment.py`."""
