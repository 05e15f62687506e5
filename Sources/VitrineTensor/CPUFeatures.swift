import CVitrineKernels
import Foundation

/// The instruction sets Vitrine's hand-written kernels come in. One binary holds them all and runs
/// the most capable one the CPU has, or a lower one that `VITRINE_ISA` (`portable`, `avx2`,
/// `avx512`, `amx`) asks for, so every path can be tested and benchmarked on one machine. The same
/// variable caps oneDNN's kernels (see ``OneDNN``); OpenBLAS picks its own (`OPENBLAS_CORETYPE`).
public enum InstructionSet: Int, CaseIterable, Comparable, Sendable, CustomStringConvertible {
    /// Portable C for the baseline target.
    case portable
    /// AVX2 and FMA.
    case avx2
    /// AVX-512 F/BW/VL with VNNI: AVX2's kernels, plus int8 products on `vpdpbusd`.
    case avx512
    /// AVX-512's kernels, with int8 products on AMX tiles (`tdpbusd`) where Linux grants the tile state.
    case amx

    init(_ isa: vt_isa) { self = InstructionSet(rawValue: Int(isa.rawValue)) ?? .portable }

    var cValue: vt_isa { vt_isa(rawValue: UInt32(rawValue)) }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public var description: String { String(cString: vt_isa_name(cValue)) }

    /// The most capable level this CPU runs.
    public static let supported = InstructionSet(vt_isa_supported())

    /// The level the kernels run at.
    public static let active = InstructionSet(vt_kernels_active().pointee.isa)

    /// Every level this CPU runs, least capable first: the paths a test checks.
    public static var runnable: [InstructionSet] { allCases.filter { $0 <= supported } }

    /// Why `VITRINE_ISA` cannot be honoured, or nil when it is unset or fine: a value that names
    /// no level, or a level this CPU lacks. The command-line tools refuse to start on it.
    public static var environmentProblem: String? {
        let requested = vt_isa_requested()
        if requested == -2 {
            let value = String(cString: getenv("VITRINE_ISA"))
            return "VITRINE_ISA=\"\(value)\" names no instruction set; use portable, avx2, avx512 or amx"
        }
        if requested >= 0, let level = InstructionSet(rawValue: Int(requested)), level > supported {
            return "VITRINE_ISA=\(level) asks for more than this CPU has (\(supported))"
        }
        return nil
    }

    /// One line for benchmark reports: the kernels' level, the CPU's, and what chose it.
    public static var summary: String {
        let requested = vt_isa_requested()
        let why = requested >= 0 ? "VITRINE_ISA=\(InstructionSet(rawValue: Int(requested)) ?? .portable)" : "the CPU's best"
        return "kernels \(active) (\(why); this CPU runs up to \(supported)), oneDNN \(OneDNN.isaName), OpenBLAS \(BLAS.coreName)"
    }

    /// This level's kernel table, or nil when the CPU cannot run it.
    var kernels: UnsafePointer<vt_kernels>? { vt_kernels_for(cValue) }
}

extension InstructionSet {
    /// GFLOP/s of `threads` threads running nothing but 256-bit register FMAs at once, best of
    /// three rounds of about 0.05 s; nil without AVX2. No fp32 code passes it on this CPU (where
    /// AVX-512 units are twice as wide, the peak is twice this): the ceiling benchmarks cite.
    ///
    /// Each round starts one thread per part, releases them together and times from the release
    /// to the last one's end, so threads that end up sharing a core count as the one core they got.
    public static func fmaPeakGFLOPS(threads: Int) -> Double? {
        guard supported >= .avx2 else { return nil }
        let parts = max(1, threads), iterations = 10_000_000
        _ = vt_fma256_probe(iterations / 10)
        var best = UInt64.max
        for _ in 0..<3 {
            let ready = DispatchSemaphore(value: 0), go = DispatchSemaphore(value: 0), done = DispatchGroup()
            for _ in 0..<parts {
                done.enter()
                Thread {
                    ready.signal()
                    go.wait()
                    _ = vt_fma256_probe(iterations)
                    done.leave()
                }.start()
            }
            for _ in 0..<parts { ready.wait() }
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<parts { go.signal() }
            done.wait()
            best = min(best, DispatchTime.now().uptimeNanoseconds - start)
        }
        return Double(parts * iterations * 192) / Double(best)
    }
}

/// The kernel table the layers call: the active level's, chosen once.
enum ActiveKernels {
    static let table: vt_kernels = vt_kernels_active().pointee
}

#if canImport(Glibc)
import Glibc
#endif
