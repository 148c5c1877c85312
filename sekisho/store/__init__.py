"""The shared store: schema, migrations, every query, and the milter's policy snapshots."""
