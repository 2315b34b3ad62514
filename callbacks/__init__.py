"""Lightning callbacks: render generated music to TensorBoard and to files."""
