"""The product surface: the JSON API and the console pages."""
