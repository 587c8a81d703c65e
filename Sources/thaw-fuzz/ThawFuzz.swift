import FuzzChecks
#if canImport(Glibc)
import Glibc
#endif

// Built two ways. With THAW_FUZZING (`make fuzz`: -sanitize=fuzzer), `main` hands over to
// libFuzzer's driver, which calls `LLVMFuzzerTestOneInput` for every input it makes;
// THAW_FUZZ_TARGET picks the check. (SwiftPM links an executable's `main` to its module's entry
// point, so libFuzzer's own `main` cannot be used.) Without, it replays files:
// `thaw-fuzz TARGET FILE...`.

#if THAW_FUZZING
private let selected: FuzzTarget = {
    let name = getenv("THAW_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        fatalError("set THAW_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selected.check(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@main
struct ThawFuzz {
    static func main() {
        _ = selected
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv, fuzzOne))
    }
}
#else
@main
struct ThawFuzz {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name), arguments.count > 1 else {
            print("usage: thaw-fuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE...")
            print("Runs each file through the target's check (as `make fuzz` does under libFuzzer); traps on a violation.")
            exit(arguments.first == "--help" ? 0 : 2)
        }
        for path in arguments.dropFirst() {
            guard let file = fopen(path, "rb") else {
                print("thaw-fuzz: cannot open \(path)")
                exit(1)
            }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = fread(&chunk, 1, chunk.count, file)
                if count <= 0 { break }
                bytes += chunk.prefix(count)
            }
            fclose(file)
            target.check(bytes)
        }
        print("thaw-fuzz: \(arguments.count - 1) input(s) passed the \(target.rawValue) check")
    }
}
#endif
