"""The Functions host loads `app` from function_app.py at the package root (the Azure package
puts this file there); which triggers it registers depends on the app's settings."""

from runtime.azure.entry import create_app

app = create_app()
