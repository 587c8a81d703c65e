import ConfigFields

extension ContainerSpec {
    static let ignoredFields = ["image", "imagePullPolicy", "resources", "ports", "volumeMounts", "livenessProbe",
                                "readinessProbe", "securityContext"]

    /// Reads one entry of `containers`, checking that its templates parse.
    init(_ reader: FieldReader, baseDirectory: String, notes: inout [String]) throws {
        try reader.accept(used: ["name", "command", "args", "env", "workingDir"], ignored: Self.ignoredFields,
                          because: "replicas run the command as a process on this machine, not in a container", notes: &notes)
        self.init(name: try reader.string("name"), command: try reader.templates("command") ?? [],
                  args: try reader.templates("args") ?? [])
        for entry in try reader.objectList("env") ?? [] {
            try entry.rejectUnknown(allowed: ["name", "value"])
            guard let name = try entry.string("name"), !name.isEmpty else {
                throw entry.error("missing field \(entry.quoted("name")) (the variable's name)")
            }
            let value = try entry.text("value") ?? ""
            try entry.checkTemplate(value, field: "value")
            env.append(EnvVar(name: name, value: value))
        }
        if let directory = try reader.string("workingDir"), !directory.isEmpty {
            workingDirectory = FieldReader.absolutePath(directory, baseDirectory: baseDirectory)
        }
    }
}
