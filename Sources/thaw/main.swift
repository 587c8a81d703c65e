print("thaw")
