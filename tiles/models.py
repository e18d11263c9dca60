"""No tables: tiles are rendered from the layers (this module lets post_migrate reach the app)."""
