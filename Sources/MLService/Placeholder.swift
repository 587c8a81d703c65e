public enum MLServicePlaceholder {}
