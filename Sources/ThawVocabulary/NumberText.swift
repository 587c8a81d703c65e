/// How Thaw writes a number in a message or a file: a whole number without a fraction ("300", not
/// "300.0"), anything else as Swift prints it.
public enum NumberText {
    public static func plain(_ value: Double) -> String {
        if value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
