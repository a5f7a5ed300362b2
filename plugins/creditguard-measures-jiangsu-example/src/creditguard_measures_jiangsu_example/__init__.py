"""Measure pack: FICTIONAL Jiangsu (320000) and Nanjing (320100) lists for the demo."""
