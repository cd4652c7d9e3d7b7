"""Champion/challenger: the pure decision, acting on it, the champion alias."""
