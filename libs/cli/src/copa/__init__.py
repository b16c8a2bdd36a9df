"""copa: the developer's command for Copa Run (``copa up``, ``status``, ``token``), the
embedded servers it starts, and the pytest fixtures that start the same servers for tests."""
