//! The CUDA backend (feature `cuda`): a [`Gpu`] context that runs the tape's heavy kernels on an
//! NVIDIA GPU. Matrix products go to cuBLAS (`sgemm`, with the row-major layout and transposes
//! of [`kernels::matmul`]); relu, sigmoid and tanh with their gradients, the bias broadcast
//! (`add_row`) and its column-sum gradient are CUDA C kernels compiled with NVRTC once, when
//! the context opens, and kept with it. [`crate::device::Device::Cuda`] holds a shared `Gpu`
//! and sends it the operations above its [`Thresholds`]; everything else stays on the CPU.
//!
//! Nothing is linked at build time: cudarc loads `libcuda`, `libcublas` and `libnvrtc` with
//! `dlopen` when [`Gpu::open`] runs, against the CUDA 12.6 API, so the crate builds without a
//! CUDA toolkit and runs without a GPU. A missing library, driver or device is a
//! [`TensorError::Device`] naming what is missing, never a panic.
//!
//! Tensors stay in host memory: each call copies its operands to the device, runs, copies the
//! result back and waits for it. That is simple and always correct, and it pays only for
//! operations large enough to hide two PCIe copies, hence the thresholds. Device-resident
//! tensors (values that stay on the GPU between the operations of a tape, and parameters that
//! stay there between steps) are the next step; they would make the small operations worth
//! sending too.
//!
//! One context serves every thread: calls take a lock, so the operations of concurrent steps
//! run one after another on the context's stream.
//!
//! Unsafe code, each with its argument beside it: loading the CUDA libraries (their
//! initializers run), the cuBLAS `sgemm` call (sizes and leading dimensions against the
//! buffers' lengths) and the kernel launches (argument lists against the kernels' signatures,
//! buffer lengths against the ranges the kernels touch).

use crate::device::Work;
use crate::error::{Result, TensorError, invalid, shape};
use crate::kernels::{self, Activation};
use cudarc::cublas::sys::cublasOperation_t;
use cudarc::cublas::{CudaBlas, Gemm, GemmConfig};
use cudarc::driver::{CudaContext, CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg};
use cudarc::nvrtc::{CompileError, CompileOptions};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// When an operation is sent to the GPU: at or above these sizes; below them it runs on the
/// CPU.
///
/// Every GPU call pays a fixed cost (allocations, a launch, a synchronization: tens of
/// microseconds) and copies its operands both ways over PCIe (about 10 GB/s from pageable
/// memory), so a small operation is faster on the CPU. The defaults are estimates from those
/// costs against one CPU core, to be tuned with `cargo bench -p mlp-tensor --features cuda
/// --bench gpu` on the GPU machine:
///
/// - matrix products from `2^22` multiply-adds (`m · k · n`, e.g. a 256 × 128 batch through a
///   128-wide layer): about 8 MFLOP, roughly 100 µs on one core, where the copies of the three
///   matrices and the fixed cost come to tens of microseconds;
/// - elementwise kernels from `2^20` values (4 MiB): relu is about a wash there, while sigmoid
///   and tanh (an `exp` or `tanh` per value, milliseconds on one core) already win.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    /// Multiply-adds (`m · k · n`) from which a matrix product goes to the GPU.
    pub matmul: usize,
    /// Values from which an elementwise kernel or column sum goes to the GPU.
    pub elementwise: usize,
}

impl Thresholds {
    /// The defaults (see [`Thresholds`]).
    pub const DEFAULT: Thresholds = Thresholds { matmul: 1 << 22, elementwise: 1 << 20 };
    /// Every operation of the supported kinds to the GPU, whatever its size (for tests).
    pub const ALWAYS: Thresholds = Thresholds { matmul: 0, elementwise: 0 };
}

impl Thresholds {
    /// Whether an operation of this size goes to the GPU.
    pub fn offloads(&self, work: Work) -> bool {
        match work {
            Work::MatMul { m, k, n } => m.saturating_mul(k).saturating_mul(n) >= self.matmul,
            Work::Elementwise(values) => values >= self.elementwise,
        }
    }
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds::DEFAULT
    }
}

/// The elementwise kernels, compiled by NVRTC when a context opens. Sizes are 64-bit and every
/// kernel walks its range with a grid-stride loop, so any length runs with any grid; each
/// index it touches is below the size it is given. Compiled without FMA contraction, so the
/// arithmetic is the CPU kernels' operation for operation (only `expf` and `tanhf` differ
/// from the CPU's by an ulp or two).
const KERNELS: &str = r#"
typedef unsigned long long u64;

#define FOR_EACH(i, n) \
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (u64)blockDim.x * gridDim.x)

__device__ float mlp_sigmoid1(float x) {
    if (x >= 0.0f) {
        return 1.0f / (1.0f + expf(-x));
    }
    float e = expf(x);
    return e / (1.0f + e);
}

extern "C" __global__ void mlp_relu(const float* x, float* y, u64 n) {
    FOR_EACH(i, n) { y[i] = fmaxf(x[i], 0.0f); }
}

extern "C" __global__ void mlp_sigmoid(const float* x, float* y, u64 n) {
    FOR_EACH(i, n) { y[i] = mlp_sigmoid1(x[i]); }
}

extern "C" __global__ void mlp_tanh(const float* x, float* y, u64 n) {
    FOR_EACH(i, n) { y[i] = tanhf(x[i]); }
}

// Gradients: g is the output's gradient; s the input (relu) or the output (sigmoid, tanh).
extern "C" __global__ void mlp_relu_backward(const float* g, const float* s, float* d, u64 n) {
    FOR_EACH(i, n) { d[i] = s[i] > 0.0f ? g[i] : 0.0f; }
}

extern "C" __global__ void mlp_sigmoid_backward(const float* g, const float* s, float* d, u64 n) {
    FOR_EACH(i, n) { d[i] = g[i] * s[i] * (1.0f - s[i]); }
}

extern "C" __global__ void mlp_tanh_backward(const float* g, const float* s, float* d, u64 n) {
    FOR_EACH(i, n) { d[i] = g[i] * (1.0f - s[i] * s[i]); }
}

// y = x + b on every row of the row-major x (total values, cols columns; cols > 0).
extern "C" __global__ void mlp_add_row(const float* x, const float* b, float* y, u64 total, u64 cols) {
    FOR_EACH(i, total) { y[i] = x[i] + b[i % cols]; }
}

// out[c] = sum over rows of g[r, c]. Blocks of 32 x 32 threads: x picks one of 32 adjacent
// columns (so a warp reads consecutive addresses), y one of 32 row lanes; the lanes' partial
// sums are added in shared memory in a fixed order, so the result does not vary between runs.
extern "C" __global__ void mlp_col_sum(const float* g, float* out, u64 rows, u64 cols) {
    __shared__ float part[32][33];
    u64 col = (u64)blockIdx.x * 32 + threadIdx.x;
    float s = 0.0f;
    if (col < cols) {
        for (u64 r = threadIdx.y; r < rows; r += 32) {
            s += g[r * cols + col];
        }
    }
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && col < cols) {
        float t = 0.0f;
        for (int i = 0; i < 32; ++i) {
            t += part[i][threadIdx.x];
        }
        out[col] = t;
    }
}
"#;

/// The compiled kernels.
struct Kernels {
    forward: [CudaFunction; 3],
    backward: [CudaFunction; 3],
    add_row: CudaFunction,
    col_sum: CudaFunction,
}

impl Kernels {
    fn index(act: Activation) -> usize {
        match act {
            Activation::Relu => 0,
            Activation::Sigmoid => 1,
            Activation::Tanh => 2,
        }
    }
}

/// What a call needs, behind the context's lock.
struct Inner {
    // Field order is drop order: the cuBLAS handle and the kernels before the stream and the
    // context they belong to.
    blas: CudaBlas,
    kernels: Kernels,
    stream: Arc<CudaStream>,
    ctx: Arc<CudaContext>,
}

/// An open CUDA device with its cuBLAS handle and compiled kernels. Open one per process and
/// share it (`Arc`): opening compiles the kernels.
pub struct Gpu {
    ordinal: usize,
    name: String,
    capability: (i32, i32),
    memory: usize,
    thresholds: Thresholds,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu")
            .field("ordinal", &self.ordinal)
            .field("name", &self.name)
            .field("capability", &self.capability)
            .field("thresholds", &self.thresholds)
            .finish()
    }
}

fn device_error(message: impl Into<String>) -> TensorError {
    TensorError::Device(message.into())
}

/// Maps a CUDA, cuBLAS or NVRTC error of `what` to a [`TensorError::Device`].
fn failed<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> TensorError {
    move |e| device_error(format!("CUDA {what} failed: {e}"))
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Which of the three CUDA libraries can be loaded: driver, cuBLAS, NVRTC.
#[allow(unsafe_code)]
fn libraries_present() -> [bool; 3] {
    // SAFETY: each call `dlopen`s the library under its standard names (and closes it again),
    // which runs the library's initializers. These are NVIDIA's own CUDA libraries, the ones
    // every CUDA program loads; their initializers only set up the library's internal state
    // and make no assumption about this process that loading could break. Nothing else
    // happens: no function of the library is called and no symbol is read.
    unsafe {
        [
            cudarc::driver::sys::is_culib_present(),
            cudarc::cublas::sys::is_culib_present(),
            cudarc::nvrtc::sys::is_culib_present(),
        ]
    }
}

impl Gpu {
    /// Opens CUDA device `ordinal` (0 for the first GPU): loads the CUDA libraries, creates the
    /// context, its stream and cuBLAS handle, compiles the kernels and runs a small self-test.
    /// Every failure, a missing driver or library included, is a [`TensorError::Device`]
    /// naming what is missing; this never panics.
    pub fn open(ordinal: usize) -> Result<Gpu> {
        let [driver, cublas, nvrtc] = libraries_present();
        if !driver {
            return Err(device_error(
                "no CUDA driver found (libcuda.so could not be loaded): install the NVIDIA driver, or run without `grant gpu`",
            ));
        }
        for (present, what, lib) in [(cublas, "cuBLAS", "libcublas.so.12"), (nvrtc, "NVRTC", "libnvrtc.so.12")] {
            if !present {
                return Err(device_error(format!(
                    "no {what} found ({lib} could not be loaded): install the CUDA 12 runtime libraries (cuBLAS and NVRTC) where the loader finds them (LD_LIBRARY_PATH), or run without `grant gpu`"
                )));
            }
        }
        // cudarc resolves each CUDA function when it is first called and panics if a library
        // lacks it (an older library than the CUDA 12.6 API this is built against). Opening
        // calls every function later operations use (the self-test), so catching that here
        // covers them.
        match std::panic::catch_unwind(|| Gpu::open_context(ordinal)) {
            Ok(r) => r,
            Err(payload) => Err(device_error(format!(
                "the CUDA libraries on this machine could not be used ({}): mlp's CUDA backend needs the CUDA 12.6 API or newer",
                panic_text(&*payload)
            ))),
        }
    }

    fn open_context(ordinal: usize) -> Result<Gpu> {
        let count = CudaContext::device_count().map_err(|e| {
            device_error(format!(
                "the CUDA driver found no usable GPU ({e}): check `nvidia-smi`, or run without `grant gpu`"
            ))
        })?;
        let count = usize::try_from(count).unwrap_or(0);
        if ordinal >= count {
            return Err(device_error(format!(
                "no CUDA device {ordinal}: the driver sees {count} GPU{}",
                if count == 1 { "" } else { "s" }
            )));
        }
        let ctx = CudaContext::new(ordinal).map_err(failed("context creation"))?;
        let name = ctx.name().map_err(failed("device query"))?;
        let capability = ctx.compute_capability().map_err(failed("device query"))?;
        let memory = ctx.total_mem().map_err(failed("device query"))?;
        let stream = ctx.default_stream();
        let blas = CudaBlas::new(stream.clone()).map_err(failed("cuBLAS initialization"))?;
        let options = CompileOptions { fmad: Some(false), name: Some("mlp_kernels.cu".into()), ..Default::default() };
        let ptx = cudarc::nvrtc::compile_ptx_with_opts(KERNELS, options).map_err(|e| match e {
            CompileError::CompileError { log, .. } => {
                device_error(format!("the CUDA kernels did not compile: {}", log.to_string_lossy()))
            }
            e => device_error(format!("NVRTC failed: {e}")),
        })?;
        let module = ctx.load_module(ptx).map_err(failed("module load"))?;
        let load = |name: &str| module.load_function(name).map_err(failed("kernel lookup"));
        let kernels = Kernels {
            forward: [load("mlp_relu")?, load("mlp_sigmoid")?, load("mlp_tanh")?],
            backward: [load("mlp_relu_backward")?, load("mlp_sigmoid_backward")?, load("mlp_tanh_backward")?],
            add_row: load("mlp_add_row")?,
            col_sum: load("mlp_col_sum")?,
        };
        let gpu = Gpu {
            ordinal,
            name,
            capability,
            memory,
            thresholds: Thresholds::DEFAULT,
            inner: Mutex::new(Inner { blas, kernels, stream, ctx }),
        };
        gpu.self_test()?;
        Ok(gpu)
    }

    /// A product and a kernel on small exact values, compared with the CPU: resolves every
    /// CUDA function later calls use, and catches a device that computes wrongly.
    fn self_test(&self) -> Result<()> {
        let a = [1.0, -2.0, 3.0, 4.0, 5.0, -6.0];
        let b = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let (mut cpu, mut gpu) = ([0f32; 4], [0f32; 4]);
        kernels::matmul(&a, &b, &mut cpu, 2, 3, 2, false, false, false);
        self.matmul(&a, &b, &mut gpu, 2, 3, 2, false, false, false)?;
        let mut relu = [0f32; 6];
        self.activation(Activation::Relu, &a, &mut relu)?;
        if cpu != gpu || relu != [1.0, 0.0, 3.0, 4.0, 5.0, 0.0] {
            return Err(device_error(format!(
                "CUDA device {} ({}) failed its self-test: a product gave {gpu:?} instead of {cpu:?}",
                self.ordinal, self.name
            )));
        }
        Ok(())
    }

    /// The same context with other thresholds.
    pub fn with_thresholds(mut self, thresholds: Thresholds) -> Gpu {
        self.thresholds = thresholds;
        self
    }

    /// When operations go to this GPU.
    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// Whether an operation of this size goes to this GPU.
    pub fn offloads(&self, work: Work) -> bool {
        self.thresholds.offloads(work)
    }

    /// The device's ordinal.
    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    /// The device's name (`NVIDIA H100 80GB HBM3`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One line for logs: `cuda:0 (NVIDIA H100 80GB HBM3, compute 9.0, 79 GiB)`.
    pub fn describe(&self) -> String {
        format!(
            "cuda:{} ({}, compute {}.{}, {} GiB)",
            self.ordinal,
            self.name,
            self.capability.0,
            self.capability.1,
            self.memory >> 30
        )
    }

    /// The context, bound to the calling thread, for one call.
    fn lock(&self) -> Result<MutexGuard<'_, Inner>> {
        // A panic while the lock was held left no broken invariant here: every call starts
        // from fresh buffers.
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.ctx.bind_to_thread().map_err(failed("context binding"))?;
        Ok(inner)
    }

    /// `out = op(a) · op(b)` (or `out += ...` when `accumulate`), exactly as
    /// [`kernels::matmul`]: `op(a)` is `m × k` (stored `k × m` when `ta`), `op(b)` is `k × n`
    /// (stored `n × k` when `tb`), all row-major.
    ///
    /// cuBLAS is column-major, and a row-major `r × c` matrix is the column-major `c × r`
    /// matrix of its transpose. So the row-major `C = op(A) · op(B)` is computed as the
    /// column-major `Cᵀ = op(B)ᵀ · op(A)ᵀ`: `sgemm` with the operands swapped, sizes `(n, m, k)`,
    /// and each operand's buffer read as stored (`N`) when it is not transposed, or transposed
    /// (`T`) when it is.
    #[allow(clippy::too_many_arguments)]
    #[allow(unsafe_code)]
    pub fn matmul(
        &self,
        a: &[f32],
        b: &[f32],
        out: &mut [f32],
        m: usize,
        k: usize,
        n: usize,
        ta: bool,
        tb: bool,
        accumulate: bool,
    ) -> Result<()> {
        // Saturated products cannot equal a slice's length, which is at most `isize::MAX`.
        if a.len() != m.saturating_mul(k) || b.len() != k.saturating_mul(n) || out.len() != m.saturating_mul(n) {
            return Err(shape(
                "matmul",
                format!("{}, {} and {} values for a {m} × {k} by {k} × {n} product", a.len(), b.len(), out.len()),
            ));
        }
        let int =
            |x: usize| i32::try_from(x).map_err(|_| invalid("matmul", format!("size {x} is too large for cuBLAS")));
        let (mi, ki, ni) = (int(m)?, int(k)?, int(n)?);
        if m == 0 || n == 0 {
            return Ok(());
        }
        if k == 0 {
            if !accumulate {
                out.fill(0.0);
            }
            return Ok(());
        }
        let inner = self.lock()?;
        let s = &inner.stream;
        let da = s.clone_htod(a).map_err(failed("copy to device"))?;
        let db = s.clone_htod(b).map_err(failed("copy to device"))?;
        let mut dc = if accumulate { s.clone_htod(&*out) } else { s.alloc_zeros::<f32>(out.len()) }
            .map_err(failed("copy to device"))?;
        let op = |t: bool| if t { cublasOperation_t::CUBLAS_OP_T } else { cublasOperation_t::CUBLAS_OP_N };
        let cfg = GemmConfig {
            // First operand: the buffer of B, as op(B)ᵀ (n × k).
            transa: op(tb),
            // Second: the buffer of A, as op(A)ᵀ (k × m).
            transb: op(ta),
            m: ni,
            n: mi,
            k: ki,
            alpha: 1.0f32,
            lda: if tb { ki } else { ni },
            ldb: if ta { mi } else { ki },
            beta: if accumulate { 1.0 } else { 0.0 },
            ldc: ni,
        };
        // SAFETY: sgemm reads an `lda × (transa N ? k : n)` column-major matrix from `db`, an
        // `ldb × (transb N ? m : k)` one from `da`, and writes `ldc × m` values of `dc`:
        // - `db` holds `b.len() = k·n` values; not transposed it is read as `n × k` with
        //   `lda = n`, transposed as `k × n` with `lda = k`: `k·n` values either way;
        // - `da` holds `a.len() = m·k` values; not transposed it is read as `k × m` with
        //   `ldb = k`, transposed as `m × k` with `ldb = m`: `m·k` values either way;
        // - `dc` holds `out.len() = m·n` values, written as `n × m` with `ldc = n`.
        // All sizes are positive and fit `i32` (checked above), so every leading dimension is
        // at least 1 and at least its matrix's row count, as cuBLAS requires. The three
        // buffers are distinct allocations of this context, freed only when dropped, in stream
        // order (after the product); the handle runs on the stream of the copies, so it reads
        // the operands after they arrive and the copy back reads the result after it is done.
        unsafe { inner.blas.gemm(cfg, &db, &da, &mut dc) }.map_err(failed("sgemm"))?;
        s.memcpy_dtoh(&dc, out).map_err(failed("copy from device"))?;
        s.synchronize().map_err(failed("synchronize"))
    }

    /// `out = act(x)`, elementwise, as [`kernels::activation`].
    pub fn activation(&self, act: Activation, x: &[f32], out: &mut [f32]) -> Result<()> {
        if x.len() != out.len() {
            return Err(shape("activation", format!("{} values into {}", x.len(), out.len())));
        }
        if x.is_empty() {
            return Ok(());
        }
        let inner = self.lock()?;
        let s = &inner.stream;
        let dx = s.clone_htod(x).map_err(failed("copy to device"))?;
        let mut dy = s.alloc_zeros::<f32>(x.len()).map_err(failed("allocation"))?;
        launch_map(s, &inner.kernels.forward[Kernels::index(act)], &dx, &mut dy)?;
        s.memcpy_dtoh(&dy, out).map_err(failed("copy from device"))?;
        s.synchronize().map_err(failed("synchronize"))
    }

    /// `out = g · act'(...)`, elementwise, as [`kernels::activation_backward`] (`saved` is the
    /// input for relu, the output for sigmoid and tanh).
    pub fn activation_backward(&self, act: Activation, g: &[f32], saved: &[f32], out: &mut [f32]) -> Result<()> {
        if g.len() != saved.len() || g.len() != out.len() {
            return Err(shape(
                "activation_backward",
                format!("{} gradients, {} saved values into {}", g.len(), saved.len(), out.len()),
            ));
        }
        if g.is_empty() {
            return Ok(());
        }
        let inner = self.lock()?;
        let s = &inner.stream;
        let dg = s.clone_htod(g).map_err(failed("copy to device"))?;
        let ds = s.clone_htod(saved).map_err(failed("copy to device"))?;
        let mut dd = s.alloc_zeros::<f32>(g.len()).map_err(failed("allocation"))?;
        launch_zip(s, &inner.kernels.backward[Kernels::index(act)], &dg, &ds, &mut dd)?;
        s.memcpy_dtoh(&dd, out).map_err(failed("copy from device"))?;
        s.synchronize().map_err(failed("synchronize"))
    }

    /// `out = x + b` on every row of the row-major `x` of `b.len()` columns, as
    /// [`kernels::add_row`].
    #[allow(unsafe_code)]
    pub fn add_row(&self, x: &[f32], b: &[f32], out: &mut [f32]) -> Result<()> {
        if x.len() != out.len() || !x.len().is_multiple_of(b.len().max(1)) {
            return Err(shape("add_row", format!("{} values, a row of {} into {}", x.len(), b.len(), out.len())));
        }
        if x.is_empty() {
            return Ok(());
        }
        let inner = self.lock()?;
        let s = &inner.stream;
        let dx = s.clone_htod(x).map_err(failed("copy to device"))?;
        let db = s.clone_htod(b).map_err(failed("copy to device"))?;
        let mut dy = s.alloc_zeros::<f32>(x.len()).map_err(failed("allocation"))?;
        let (total, cols) = (x.len() as u64, b.len() as u64);
        let mut args = s.launch_builder(&inner.kernels.add_row);
        args.arg(&dx).arg(&db).arg(&mut dy).arg(&total).arg(&cols);
        // SAFETY: `mlp_add_row(const float* x, const float* b, float* y, u64 total, u64 cols)`
        // gets exactly these five arguments in this order: three `f32` device buffers and two
        // `u64`. It touches `x[i]` and `y[i]` for `i < total` (both hold `total` values) and
        // `b[i % cols]` (`b` holds `cols` values; `cols > 0`, since `x` is not empty and its
        // length is a multiple of `max(cols, 1)`). The integers outlive the launch, which copies
        // them; the buffers are freed only when dropped, in stream order (after the kernel).
        unsafe { args.launch(grid(x.len())) }.map_err(failed("kernel launch"))?;
        s.memcpy_dtoh(&dy, out).map_err(failed("copy from device"))?;
        s.synchronize().map_err(failed("synchronize"))
    }

    /// `out[j] = Σ_i g[i, j]` over the row-major `g` of `out.len()` columns, as
    /// [`kernels::col_sum`] (summed in another order, so equal up to rounding).
    #[allow(unsafe_code)]
    pub fn col_sum(&self, g: &[f32], out: &mut [f32]) -> Result<()> {
        let cols = out.len();
        if cols == 0 || g.is_empty() {
            out.fill(0.0);
            return Ok(());
        }
        if !g.len().is_multiple_of(cols) {
            return Err(shape("col_sum", format!("{} values are not rows of {cols} columns", g.len())));
        }
        let rows = g.len() / cols;
        let blocks = u32::try_from(cols.div_ceil(32))
            .map_err(|_| invalid("col_sum", format!("{cols} columns are too many for one launch")))?;
        let inner = self.lock()?;
        let s = &inner.stream;
        let dg = s.clone_htod(g).map_err(failed("copy to device"))?;
        let mut dout = s.alloc_zeros::<f32>(cols).map_err(failed("allocation"))?;
        let (rows64, cols64) = (rows as u64, cols as u64);
        let mut args = s.launch_builder(&inner.kernels.col_sum);
        args.arg(&dg).arg(&mut dout).arg(&rows64).arg(&cols64);
        let cfg = LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (32, 32, 1), shared_mem_bytes: 0 };
        // SAFETY: `mlp_col_sum(const float* g, float* out, u64 rows, u64 cols)` gets exactly
        // these four arguments in this order. Its blocks are 32 × 32 threads, as the kernel's
        // shared array and loops assume. It reads `g[r * cols + c]` for `r < rows`, `c < cols`
        // (below `rows · cols = g.len()`, the buffer's length) and writes `out[c]` for
        // `c < cols` (the buffer's length). The integers outlive the launch, which copies them;
        // the buffers are freed only when dropped, in stream order (after the kernel).
        unsafe { args.launch(cfg) }.map_err(failed("kernel launch"))?;
        s.memcpy_dtoh(&dout, out).map_err(failed("copy from device"))?;
        s.synchronize().map_err(failed("synchronize"))
    }
}

/// A grid-stride launch over `n > 0` values: blocks of 256 threads, at most 65,536 blocks
/// (the kernels loop over the rest).
fn grid(n: usize) -> LaunchConfig {
    let blocks = n.div_ceil(256).clamp(1, 1 << 16) as u32;
    LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 }
}

/// Runs a forward kernel `f(const float* x, float* y, u64 n)` over `x` into `y`.
#[allow(unsafe_code)]
fn launch_map(s: &Arc<CudaStream>, f: &CudaFunction, x: &CudaSlice<f32>, y: &mut CudaSlice<f32>) -> Result<()> {
    if x.len() != y.len() || x.is_empty() {
        return Err(shape("activation", format!("{} values into {}", x.len(), y.len())));
    }
    let n = x.len() as u64;
    let cfg = grid(x.len());
    let mut args = s.launch_builder(f);
    args.arg(x).arg(y).arg(&n);
    // SAFETY: `f` is one of `mlp_relu`, `mlp_sigmoid`, `mlp_tanh`, each declared
    // `(const float* x, float* y, u64 n)`, and gets exactly these three arguments in this
    // order: two `f32` device buffers and a `u64`. Each reads `x[i]` and writes `y[i]` only for
    // `i < n`, and both buffers hold `n` values (checked above). `n` outlives the launch,
    // which copies it; the buffers, borrowed here, are freed only when their owner drops them,
    // in stream order (after the kernel).
    unsafe { args.launch(cfg) }.map_err(failed("kernel launch"))?;
    Ok(())
}

/// Runs a backward kernel `f(const float* g, const float* s, float* d, u64 n)`.
#[allow(unsafe_code)]
fn launch_zip(
    s: &Arc<CudaStream>,
    f: &CudaFunction,
    g: &CudaSlice<f32>,
    saved: &CudaSlice<f32>,
    d: &mut CudaSlice<f32>,
) -> Result<()> {
    if g.len() != saved.len() || g.len() != d.len() || g.is_empty() {
        return Err(shape("activation_backward", format!("{}, {} and {} values", g.len(), saved.len(), d.len())));
    }
    let n = g.len() as u64;
    let cfg = grid(g.len());
    let mut args = s.launch_builder(f);
    args.arg(g).arg(saved).arg(d).arg(&n);
    // SAFETY: `f` is one of `mlp_relu_backward`, `mlp_sigmoid_backward`,
    // `mlp_tanh_backward`, each declared `(const float* g, const float* s, float* d, u64 n)`,
    // and gets exactly these four arguments in this order: three `f32` device buffers and a
    // `u64`. Each touches index `i` of the three buffers only for `i < n`, and all three hold
    // `n` values (checked above). `n` outlives the launch, which copies it; the buffers,
    // borrowed here, are freed only when their owner drops them, in stream order (after the
    // kernel).
    unsafe { args.launch(cfg) }.map_err(failed("kernel launch"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_decide_by_size() {
        let t = Thresholds::default();
        assert_eq!(t, Thresholds::DEFAULT);
        assert!(!t.offloads(Work::MatMul { m: 64, k: 64, n: 64 }));
        assert!(t.offloads(Work::MatMul { m: 256, k: 128, n: 128 }));
        assert!(t.offloads(Work::MatMul { m: usize::MAX, k: 2, n: 2 }));
        assert!(!t.offloads(Work::Elementwise(1000)));
        assert!(t.offloads(Work::Elementwise(1 << 20)));
        assert!(Thresholds::ALWAYS.offloads(Work::Elementwise(0)));
        assert!(Thresholds::ALWAYS.offloads(Work::MatMul { m: 1, k: 1, n: 1 }));
    }

    #[test]
    fn launch_grids_cover_any_length() {
        assert_eq!(grid(1).grid_dim, (1, 1, 1));
        assert_eq!(grid(256).grid_dim, (1, 1, 1));
        assert_eq!(grid(257).grid_dim, (2, 1, 1));
        assert_eq!(grid(usize::MAX).grid_dim, (1 << 16, 1, 1));
    }

    #[test]
    fn panic_messages_are_kept() {
        // The payloads `panic!` makes: a static message, or a formatted one.
        let p: Box<dyn std::any::Any + Send> = Box::new("Missing symbol cuFoo");
        assert_eq!(panic_text(&*p), "Missing symbol cuFoo");
        let p: Box<dyn std::any::Any + Send> = Box::new(format!("Missing symbol {}", "cuBar"));
        assert_eq!(panic_text(&*p), "Missing symbol cuBar");
        let p: Box<dyn std::any::Any + Send> = Box::new(7u8);
        assert_eq!(panic_text(&*p), "a panic without a message");
    }
}
