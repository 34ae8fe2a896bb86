"""Write-backs: records a vendor exports, validated and written into Aeries (include/writebacks/*.yml)."""
