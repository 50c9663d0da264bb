"""Settings package of the stand-alone Django project run under ``lambda-jobs local``."""
