"""Models: recurrent nets (fused + unrolled), and later TCN and attention."""
