"""A minimal Django project for the lambda-jobs Django backend tests (settings only)."""
