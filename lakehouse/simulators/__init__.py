"""Stand-ins for the departments' own systems, seeded from the generator (tests, demo)."""
