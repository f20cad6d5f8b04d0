pytest_plugins = ["allclear.plugin"]
