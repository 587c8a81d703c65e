@_exported import ConfigFields

/// Simulation inputs report problems the same way every Thaw input file does.
public typealias SimulationError = ConfigError
