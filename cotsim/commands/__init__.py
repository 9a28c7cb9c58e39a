"""One module per subcommand; see ``cotsim.cli``."""
