"""Rally's common library: only what every service needs, no domain logic."""
