"""Cloud functions: one WSGI app (`functions.app.create_app`) behind thin platform entry points."""
