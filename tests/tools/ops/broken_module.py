"""A task module that fails to import (for the ``enqueue`` error test)."""

raise ImportError("this module is broken on purpose")
