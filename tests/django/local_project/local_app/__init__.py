"""The app whose tasks run under ``lambda-jobs local``."""
