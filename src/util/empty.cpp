// Placeholder translation unit for an area of src/ that has no sources yet.
