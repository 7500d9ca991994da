"""The demo: a sample app seeded into the local cloud, and the scenarios it deploys."""
