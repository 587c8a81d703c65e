import Foundation
import LocalDriver
import MLService

/// What local mode checks before it starts anything, so a mistake is one message up front rather
/// than a crash loop a minute later: every replica's program can be found, and every `file://`
/// model path exists.
public enum Preflight {
    /// The problems with `plan` (made from `file`), each naming the target and what to fix; empty
    /// when everything can start. `searchPath`: where a bare program name is looked up, in order.
    public static func problems(plan: LocalPlan, file: MLServiceFile, searchPath: [String]) -> [String] {
        var problems: [String] = []
        for target in plan.targets {
            guard let command = try? target.command(0) else { continue }  // render errors were reported when the file was read
            if (try? ExecutableLookup.resolve(command.executable, workingDirectory: command.workingDirectory,
                                              path: searchPath.joined(separator: ":"))) == nil {
                let looked = command.executable.contains("/")
                    ? "relative to \(command.workingDirectory)"
                    : "on PATH (\(searchPath.joined(separator: ":")))"
                problems.append("target \(target.name): the command \"\(command.executable)\" is not an executable file \(looked); install it, or fix command[0] in the runtime or the container")
            }
        }
        for service in file.services {
            for release in service.releases {
                guard let path = release.modelPath, !FileManager.default.fileExists(atPath: path) else { continue }
                problems.append("MLService \(service.name), release \(release.name): the model path \(path) (from its file:// modelUri) does not exist")
            }
        }
        return problems
    }
}
