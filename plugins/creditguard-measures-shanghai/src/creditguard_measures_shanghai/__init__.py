"""Measure pack: Shanghai (310000), following 上海市社会信用条例 Arts 30, 31, 33."""
