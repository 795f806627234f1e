"""Text in the scene: OCR scorers, the rapidocr extractor and the text dimensions end to end."""
