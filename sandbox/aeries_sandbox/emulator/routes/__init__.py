"""The emulator's routes: path segments after ``api/v5`` (or ``__emulator__``) -> ``(route name, action)``."""
