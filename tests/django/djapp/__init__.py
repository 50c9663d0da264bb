"""The test app: Django tasks (``tasks``), one task outside the handler's allowed modules
(``outside``) and signal receivers that record what happened to a file (``receivers``)."""
