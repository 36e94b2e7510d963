// Keeps the service library non-empty until its sources land.
