"""The channel side: the contract with channel teams and a reference channel worker."""
