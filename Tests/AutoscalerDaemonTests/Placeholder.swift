import Testing
@testable import AutoscalerDaemon
