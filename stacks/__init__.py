"""The demo CDK app's stacks (``app.py``): ``GoatDemo`` and ``LambDemo``."""
