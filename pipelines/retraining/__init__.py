"""Retraining: the moving training window of a run at date T, and the guard that decides when
monitoring may request one (a pure function; acting on it is the DAGs' and the replay's job)."""
