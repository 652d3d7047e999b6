"""Fleet manager: the server every device reports to and every admin works in."""
