//! The code generator: a checked [`ProgramIr`] becomes ONE native function, built with
//! Cranelift and linked in memory by `cranelift-jit`, that loops over the rows of a batch and
//! computes every output of the program for each row.
//!
//! # Calling convention
//!
//! ```text
//! extern "C" fn(in_values: *const *const u8, in_valid: *const *const u8,
//!               out_values: *const *mut u8, out_valid: *const *mut u8, rows: usize)
//! ```
//!
//! `in_values[k]` is input `k`'s value buffer: `rows` `f64`/`i64` values, or for a boolean
//! input a bitmap (LSB first, bit offset 0). `in_valid[k]` is its validity bitmap (bit offset 0;
//! all ones when the column has no nulls). `out_values[j]` receives output `j`: `rows`
//! `f64`/`i64` values, or `rows` bytes (0/1) for a boolean output; `out_valid[j]` receives `rows`
//! validity bytes (0/1). [`crate::eval`] packs the bytes into Arrow bitmaps.
//!
//! # Code shape
//!
//! The loop body is one basic block, free of branches: every operator is evaluated for every
//! row and nulls are tracked as a validity byte next to each value; `if`, `fill_null` and the
//! three-valued logic are `select`s and bit operations, and the operations that could trap
//! (integer division by zero, `i64::MIN / -1`, float → int casts) are guarded so that they
//! never do. Column loads are shared within a row; Cranelift's e-graph pass shares the rest.
//! `log`, `log1p`, `exp` and `pow` have no Cranelift instruction and are calls to the Rust
//! functions below, registered as host symbols, so the compiled code and
//! [`crate::reference`] compute them with the very same `f64` methods.

use crate::error::{Result, TransformError};
use crate::ir::{BinaryOp, Expr, Input, ProgramIr, Scalar, Type, UnaryOp, unify};
use cranelift_codegen::Context;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{AbiParam, FuncRef, InstBuilder, MemFlagsData, Signature, Value, types};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Linkage, Module, default_libcall_names};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

extern "C" fn mlp_log(x: f64) -> f64 {
    x.ln()
}
extern "C" fn mlp_log1p(x: f64) -> f64 {
    x.ln_1p()
}
extern "C" fn mlp_exp(x: f64) -> f64 {
    x.exp()
}
extern "C" fn mlp_pow(x: f64, y: f64) -> f64 {
    x.powf(y)
}
extern "C" fn mlp_fmod(x: f64, y: f64) -> f64 {
    x % y
}
extern "C" fn mlp_round(x: f64) -> f64 {
    x.round()
}
extern "C" fn mlp_floor(x: f64) -> f64 {
    x.floor()
}
extern "C" fn mlp_ceil(x: f64) -> f64 {
    x.ceil()
}
extern "C" fn mlp_hash_i64(x: i64) -> i64 {
    crate::ir::hash_i64(x) as i64
}
extern "C" fn mlp_hash_f64(x: f64) -> i64 {
    crate::ir::hash_f64(x) as i64
}
extern "C" fn mlp_cross(a: i64, b: i64) -> i64 {
    crate::ir::hash_pair(a as u64, b as u64) as i64
}

/// The host functions the compiled code may call: name, address, parameter types, result type.
#[allow(clippy::type_complexity)]
fn host_functions() -> Vec<(&'static str, *const u8, &'static [types::Type], types::Type)> {
    type F1 = extern "C" fn(f64) -> f64;
    type F2 = extern "C" fn(f64, f64) -> f64;
    const F: &[types::Type] = &[types::F64];
    const FF: &[types::Type] = &[types::F64, types::F64];
    const I: &[types::Type] = &[types::I64];
    const II: &[types::Type] = &[types::I64, types::I64];
    vec![
        ("mlp_log", mlp_log as F1 as *const u8, F, types::F64),
        ("mlp_log1p", mlp_log1p as F1 as *const u8, F, types::F64),
        ("mlp_exp", mlp_exp as F1 as *const u8, F, types::F64),
        ("mlp_pow", mlp_pow as F2 as *const u8, FF, types::F64),
        ("mlp_fmod", mlp_fmod as F2 as *const u8, FF, types::F64),
        ("mlp_round", mlp_round as F1 as *const u8, F, types::F64),
        ("mlp_floor", mlp_floor as F1 as *const u8, F, types::F64),
        ("mlp_ceil", mlp_ceil as F1 as *const u8, F, types::F64),
        ("mlp_hash_i64", mlp_hash_i64 as extern "C" fn(i64) -> i64 as *const u8, I, types::I64),
        ("mlp_hash_f64", mlp_hash_f64 as extern "C" fn(f64) -> i64 as *const u8, F, types::I64),
        ("mlp_cross", mlp_cross as extern "C" fn(i64, i64) -> i64 as *const u8, II, types::I64),
    ]
}

/// Ranges up to this size get a table of their values' hashes.
const HASH_TABLE: u64 = 4096;

/// Crosses of two ranges whose product is up to this size are one table of results.
const CROSS_TABLE: u64 = 1 << 16;

/// `Some(r)` when every row's value of integer expression `e` lies in `0..r` (null rows
/// included, as the code computes them), for a small `r`: buckets and vocabulary indices.
fn small_range(e: &Expr) -> Option<u64> {
    let r = match e {
        Expr::Bucketize(_, b) => b.len() as u64 + 1,
        Expr::HashBucket(_, n) | Expr::Cross(_, _, n) => *n,
        Expr::Lookup(_, v) => v.len() as u64 + 1,
        _ => return None,
    };
    (r <= HASH_TABLE).then_some(r)
}

/// The sorted lookup table of a vocabulary, laid out for a branch-free search in the compiled
/// code: `p + 1` keys (the entries' string hashes in increasing order, then `u64::MAX`
/// padding, `p` the smallest power of two at least the vocabulary's size) followed by `p + 1`
/// positions (the entry's position in the vocabulary; the vocabulary's size for padding).
fn lookup_table(vocabulary: &[String]) -> Result<(Box<[u64]>, usize)> {
    let mut entries: Vec<(u64, u64)> =
        vocabulary.iter().enumerate().map(|(i, s)| (crate::ir::hash_str(s), i as u64)).collect();
    entries.sort_unstable();
    for w in entries.windows(2) {
        if w[0].0 == w[1].0 {
            let (a, b) = (&vocabulary[w[0].1 as usize], &vocabulary[w[1].1 as usize]);
            return Err(TransformError::Invalid(if a == b {
                format!("the vocabulary lists `{a}` twice")
            } else {
                format!("the vocabulary entries `{a}` and `{b}` have the same 64-bit hash")
            }));
        }
    }
    let p = vocabulary.len().max(1).next_power_of_two();
    let oov = vocabulary.len() as u64;
    let mut table = vec![u64::MAX; 2 * (p + 1)];
    for (k, slot) in table[p + 1..].iter_mut().enumerate() {
        *slot = entries.get(k).map_or(oov, |e| e.1);
    }
    for (k, e) in entries.iter().enumerate() {
        table[k] = e.0;
    }
    Ok((table.into_boxed_slice(), p))
}

/// A compiled program: its IR, its output types and the native function that runs it.
///
/// `Program` is `Send + Sync` by construction (no `unsafe impl`): the JIT module sits in a
/// `Mutex` that nothing locks after compilation (it is kept only so the code stays mapped, and
/// freed in `Drop`), and the entry point is kept as a plain address. Running the program from
/// several threads at once is sound because the generated code has no state: it reads only its
/// arguments and writes only the output buffers of its own call, and the host functions it
/// calls are pure.
pub struct Program {
    pub(crate) ir: ProgramIr,
    pub(crate) types: Vec<Type>,
    /// The vocabularies' lookup tables ([`lookup_table`]), read by the compiled code at fixed
    /// addresses: boxed so they never move, and dropped only with the program.
    #[allow(dead_code)]
    tables: Vec<Box<[u64]>>,
    /// The address of the compiled function (see the module docs for its signature).
    pub(crate) entry: usize,
    module: Mutex<Option<JITModule>>,
    compile_time: Duration,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program").field("ir", &self.ir).field("types", &self.types).finish_non_exhaustive()
    }
}

impl Program {
    /// Type checks `ir` and compiles it to native code.
    pub fn compile(ir: ProgramIr) -> Result<Program> {
        let start = Instant::now();
        let types = ir.check()?;
        let cg = |e: &dyn std::fmt::Display| TransformError::Codegen(e.to_string());
        let mut jb = JITBuilder::with_flags(&[("opt_level", "speed")], default_libcall_names()).map_err(|e| cg(&e))?;
        for (name, addr, _, _) in host_functions() {
            jb.symbol(name, addr);
        }
        let mut module = JITModule::new(jb);
        let config = module.target_config();
        let ptr = config.pointer_type();
        let mut host = HashMap::new();
        for (name, _, params, ret) in host_functions() {
            let mut sig = module.make_signature();
            for t in params {
                sig.params.push(AbiParam::new(*t));
            }
            sig.returns.push(AbiParam::new(ret));
            let id = module.declare_function(name, Linkage::Import, &sig).map_err(|e| cg(&e))?;
            host.insert(name, id);
        }
        let mut sig: Signature = module.make_signature();
        for _ in 0..5 {
            sig.params.push(AbiParam::new(ptr));
        }
        let id = module.declare_function("mlp_transform", Linkage::Export, &sig).map_err(|e| cg(&e))?;
        let mut ctx: Context = module.make_context();
        ctx.func.signature = sig;
        let mut fctx = FunctionBuilderContext::new();
        let mut tables = Vec::new();
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
            let funcs: HashMap<&'static str, FuncRef> =
                host.iter().map(|(name, id)| (*name, module.declare_func_in_func(*id, b.func))).collect();
            build(&mut b, ptr, &ir, &types, &funcs, &mut tables)?;
            b.seal_all_blocks();
            b.finalize(config);
        }
        module.define_function(id, &mut ctx).map_err(|e| cg(&format!("{e:?}")))?;
        module.clear_context(&mut ctx);
        module.finalize_definitions().map_err(|e| cg(&e))?;
        let entry = module.get_finalized_function(id) as usize;
        Ok(Program { ir, types, tables, entry, module: Mutex::new(Some(module)), compile_time: start.elapsed() })
    }

    /// The program's IR.
    pub fn ir(&self) -> &ProgramIr {
        &self.ir
    }

    /// The types of the outputs, in order.
    pub fn output_types(&self) -> &[Type] {
        &self.types
    }

    /// How long type checking and compiling took.
    pub fn compile_time(&self) -> Duration {
        self.compile_time
    }
}

impl Drop for Program {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        if let Some(module) = self.module.get_mut().ok().and_then(Option::take) {
            // SAFETY: the code in `module` is reachable only through `self.entry`, which is
            // private and used only by `eval::call`, which borrows `self`; we own `self` here,
            // so no call is running and none can start after this.
            unsafe { module.free_memory() };
        }
    }
}

/// A value during code generation: the value (f64, i64, or i8 0/1 for booleans), its
/// validity (i8 0/1) and its IR type.
#[derive(Clone, Copy)]
struct V {
    val: Value,
    valid: Value,
    ty: Type,
}

fn trusted() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Builds the whole function: entry (load the buffer pointers), loop header, body, exit.
fn build(
    b: &mut FunctionBuilder<'_>,
    ptr: types::Type,
    ir: &ProgramIr,
    out_types: &[Type],
    funcs: &HashMap<&'static str, FuncRef>,
    tables: &mut Vec<Box<[u64]>>,
) -> Result<()> {
    let entry = b.create_block();
    let header = b.create_block();
    let body = b.create_block();
    let exit = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.append_block_param(header, ptr);
    b.switch_to_block(entry);
    let p = b.block_params(entry).to_vec();
    let (in_vals, in_valid, out_vals, out_valid, n) = (p[0], p[1], p[2], p[3], p[4]);
    let load_ptrs = |b: &mut FunctionBuilder<'_>, base: Value, count: usize| -> Vec<Value> {
        (0..count).map(|k| b.ins().load(ptr, trusted(), base, (k * 8) as i32)).collect()
    };
    let in_vals = load_ptrs(b, in_vals, ir.inputs.len());
    let in_valid = load_ptrs(b, in_valid, ir.inputs.len());
    let out_vals = load_ptrs(b, out_vals, ir.outputs.len());
    let out_valid = load_ptrs(b, out_valid, ir.outputs.len());
    let zero = b.ins().iconst(ptr, 0);
    b.ins().jump(header, &[zero.into()]);

    b.switch_to_block(header);
    let row = b.block_params(header)[0];
    let more = b.ins().icmp(IntCC::UnsignedLessThan, row, n);
    b.ins().brif(more, body, &[], exit, &[]);

    b.switch_to_block(body);
    let byte = b.ins().ushr_imm_u(row, 3);
    let bit = b.ins().band_imm_u(row, 7);
    let bit = b.ins().ireduce(types::I8, bit);
    let off8 = b.ins().ishl_imm_u(row, 3);
    let mut g =
        Gen { b, ptr, inputs: &ir.inputs, in_vals, in_valid, byte, bit, off8, cache: HashMap::new(), funcs, tables };
    for (j, (o, ty)) in ir.outputs.iter().zip(out_types).enumerate() {
        let v = g.expr(&o.expr)?;
        let v = g.convert(v, *ty);
        let b = &mut *g.b;
        match ty {
            Type::Float64 => {
                let z = b.ins().f64const(0.0);
                let x = b.ins().select(v.valid, v.val, z);
                let addr = b.ins().iadd(out_vals[j], off8);
                b.ins().store(trusted(), x, addr, 0);
            }
            Type::Int64 => {
                let z = b.ins().iconst(types::I64, 0);
                let x = b.ins().select(v.valid, v.val, z);
                let addr = b.ins().iadd(out_vals[j], off8);
                b.ins().store(trusted(), x, addr, 0);
            }
            Type::Boolean => {
                let x = b.ins().band(v.val, v.valid);
                let addr = b.ins().iadd(out_vals[j], row);
                b.ins().store(trusted(), x, addr, 0);
            }
            Type::Utf8 => unreachable!("checked: outputs are never strings"),
        }
        let addr = b.ins().iadd(out_valid[j], row);
        b.ins().store(trusted(), v.valid, addr, 0);
    }
    let b = g.b;
    let next = b.ins().iadd_imm_u(row, 1);
    b.ins().jump(header, &[next.into()]);

    b.switch_to_block(exit);
    b.ins().return_(&[]);
    Ok(())
}

/// The state of code generation inside the loop body.
struct Gen<'a, 'b> {
    b: &'a mut FunctionBuilder<'b>,
    ptr: types::Type,
    inputs: &'a [Input],
    in_vals: Vec<Value>,
    in_valid: Vec<Value>,
    /// `row >> 3`, `row & 7` (as i8) and `row * 8`.
    byte: Value,
    bit: Value,
    off8: Value,
    /// Loaded columns of this row, by input index.
    cache: HashMap<usize, V>,
    funcs: &'a HashMap<&'static str, FuncRef>,
    tables: &'a mut Vec<Box<[u64]>>,
}

impl Gen<'_, '_> {
    fn one(&mut self) -> Value {
        self.b.ins().iconst(types::I8, 1)
    }

    /// Bit `row` of the bitmap at `base`, as i8 0/1.
    fn bit(&mut self, base: Value) -> Value {
        let addr = self.b.ins().iadd(base, self.byte);
        let x = self.b.ins().load(types::I8, trusted(), addr, 0);
        let x = self.b.ins().ushr(x, self.bit);
        self.b.ins().band_imm_u(x, 1)
    }

    fn column(&mut self, index: usize) -> V {
        if let Some(v) = self.cache.get(&index) {
            return *v;
        }
        let ty = self.inputs[index].ty;
        let valid = self.bit(self.in_valid[index]);
        let val = match ty {
            Type::Boolean => self.bit(self.in_vals[index]),
            // A string input arrives as its values' hashes (see `eval`).
            Type::Float64 | Type::Int64 | Type::Utf8 => {
                let addr = self.b.ins().iadd(self.in_vals[index], self.off8);
                let t = if ty == Type::Float64 { types::F64 } else { types::I64 };
                self.b.ins().load(t, trusted(), addr, 0)
            }
        };
        let v = V { val, valid, ty };
        self.cache.insert(index, v);
        v
    }

    /// A number as a float (int → float; floats as they are).
    fn as_f64(&mut self, v: V) -> Value {
        match v.ty {
            Type::Float64 => v.val,
            Type::Int64 => self.b.ins().fcvt_from_sint(types::F64, v.val),
            Type::Boolean => {
                let x = self.b.ins().uextend(types::I64, v.val);
                self.b.ins().fcvt_from_sint(types::F64, x)
            }
            Type::Utf8 => unreachable!("checked: strings are not numbers"),
        }
    }

    /// The hash of the text of `e`'s value (see [`crate::ir::hash_str`]). An integer known to
    /// lie in a small range `0..r` (a bucket, a vocabulary index) takes its hash from a table
    /// computed here, instead of printing and hashing it on every row.
    fn hashed(&mut self, e: &Expr) -> Result<V> {
        let v = self.expr(e)?;
        match small_range(e) {
            Some(r) if v.ty == Type::Int64 => {
                let table: Box<[u64]> = (0..r).map(|k| crate::ir::hash_i64(k as i64)).collect();
                let val = self.table_at(table, v.val);
                Ok(V { val, valid: v.valid, ty: Type::Utf8 })
            }
            _ => Ok(self.as_str(v)),
        }
    }

    /// Word `index` of `table` (which the program keeps), with `index` clamped into the
    /// table so that no row can read outside it.
    fn table_at(&mut self, table: Box<[u64]>, index: Value) -> Value {
        let last = table.len() as i64 - 1;
        let addr = table.as_ptr() as i64;
        self.tables.push(table);
        let b = &mut *self.b;
        let last = b.ins().iconst(types::I64, last);
        let i = b.ins().umin(index, last);
        let base = b.ins().iconst(self.ptr, addr);
        let off = b.ins().ishl_imm_u(i, 3);
        let at = b.ins().iadd(base, off);
        b.ins().load(types::I64, trusted(), at, 0)
    }

    /// `v` as a string: its hash (see [`crate::ir::hash_str`]).
    fn as_str(&mut self, v: V) -> V {
        let val = match v.ty {
            Type::Utf8 => return v,
            Type::Int64 => self.call("mlp_hash_i64", &[v.val]),
            Type::Float64 => self.call("mlp_hash_f64", &[v.val]),
            Type::Boolean => {
                let b = &mut *self.b;
                let t = b.ins().iconst(types::I64, crate::ir::hash_str("true") as i64);
                let f = b.ins().iconst(types::I64, crate::ir::hash_str("false") as i64);
                b.ins().select(v.val, t, f)
            }
        };
        V { val, valid: v.valid, ty: Type::Utf8 }
    }

    /// `v` converted to `ty` by the rules of `cast` (see [`crate::ir`]).
    fn convert(&mut self, v: V, ty: Type) -> V {
        if ty == Type::Utf8 {
            return self.as_str(v);
        }
        let b = &mut *self.b;
        match (v.ty, ty) {
            (a, b) if a == b => v,
            (_, Type::Float64) => V { val: self.as_f64(v), valid: v.valid, ty },
            (Type::Boolean, Type::Int64) => V { val: b.ins().uextend(types::I64, v.val), valid: v.valid, ty },
            (Type::Float64, Type::Int64) => {
                let lo = b.ins().f64const(-9_223_372_036_854_775_808.0);
                let hi = b.ins().f64const(9_223_372_036_854_775_808.0);
                let ge = b.ins().fcmp(FloatCC::GreaterThanOrEqual, v.val, lo);
                let lt = b.ins().fcmp(FloatCC::LessThan, v.val, hi);
                let ok = b.ins().band(ge, lt);
                let valid = b.ins().band(v.valid, ok);
                V { val: b.ins().fcvt_to_sint_sat(types::I64, v.val), valid, ty }
            }
            (Type::Int64, Type::Boolean) => {
                V { val: b.ins().icmp_imm_s(IntCC::NotEqual, v.val, 0), valid: v.valid, ty }
            }
            (Type::Float64, Type::Boolean) => {
                let z = b.ins().f64const(0.0);
                let val = b.ins().fcmp(FloatCC::NotEqual, v.val, z);
                let ord = b.ins().fcmp(FloatCC::Ordered, v.val, v.val);
                V { val, valid: b.ins().band(v.valid, ord), ty }
            }
            (Type::Int64 | Type::Boolean | Type::Utf8, _) | (_, Type::Utf8) => {
                unreachable!("all cases above; strings convert to nothing else (checked)")
            }
        }
    }

    fn call(&mut self, name: &str, args: &[Value]) -> Value {
        let f = self.funcs[name];
        let inst = self.b.ins().call(f, args);
        self.b.inst_results(inst)[0]
    }

    /// The position of the hash `h` in a vocabulary's [`lookup_table`] at `addr` (`p` keys
    /// before the padding), or `oov` (the vocabulary's size) when it is not there: a binary
    /// search unrolled into `log2(p) + 3` loads and selects, without branches.
    fn search(&mut self, addr: i64, p: usize, oov: i64, h: Value) -> Value {
        let b = &mut *self.b;
        let table = b.ins().iconst(self.ptr, addr);
        let at = |b: &mut FunctionBuilder<'_>, pos: Value| {
            let off = b.ins().ishl_imm_u(pos, 3);
            let a = b.ins().iadd(table, off);
            b.ins().load(types::I64, trusted(), a, 0)
        };
        // The classic lower bound over p sorted keys: `base` ends at the last key below `h`
        // (or 0), then one more step past it if it is below too; `pos` is in 0..=p.
        let mut base = b.ins().iconst(types::I64, 0);
        let mut n = p;
        while n > 1 {
            let half = n / 2;
            let probe = b.ins().iadd_imm_u(base, half as i64);
            let key = at(b, probe);
            let lt = b.ins().icmp(IntCC::UnsignedLessThan, key, h);
            base = b.ins().select(lt, probe, base);
            n -= half;
        }
        let key = at(b, base);
        let lt = b.ins().icmp(IntCC::UnsignedLessThan, key, h);
        let lt = b.ins().uextend(types::I64, lt);
        let pos = b.ins().iadd(base, lt);
        let key = at(b, pos);
        let found = b.ins().icmp(IntCC::Equal, key, h);
        let index_at = b.ins().iadd_imm_u(pos, (p + 1) as i64);
        let index = at(b, index_at);
        let oov = b.ins().iconst(types::I64, oov);
        b.ins().select(found, index, oov)
    }

    fn expr(&mut self, e: &Expr) -> Result<V> {
        Ok(match e {
            Expr::Const(s) => {
                let one = self.one();
                let b = &mut *self.b;
                let val = match s {
                    Scalar::Float64(x) => b.ins().f64const(*x),
                    Scalar::Int64(x) => b.ins().iconst(types::I64, *x),
                    Scalar::Boolean(x) => b.ins().iconst(types::I8, i64::from(*x)),
                };
                V { val, valid: one, ty: s.ty() }
            }
            Expr::Str(x) => {
                let one = self.one();
                V { val: self.b.ins().iconst(types::I64, crate::ir::hash_str(x) as i64), valid: one, ty: Type::Utf8 }
            }
            Expr::Column { index, .. } => self.column(*index),
            Expr::Unary(op, x) => {
                let v = self.expr(x)?;
                self.unary(*op, v)
            }
            Expr::Binary(op, a, c) => {
                let (va, vc) = (self.expr(a)?, self.expr(c)?);
                self.binary(*op, va, vc)
            }
            Expr::If(c, a, e) => {
                let vc = self.expr(c)?;
                let (va, ve) = (self.expr(a)?, self.expr(e)?);
                let ty = unify(va.ty, ve.ty).expect("checked");
                let (va, ve) = (self.convert(va, ty), self.convert(ve, ty));
                let b = &mut *self.b;
                let take = b.ins().band(vc.valid, vc.val);
                V { val: b.ins().select(take, va.val, ve.val), valid: b.ins().select(take, va.valid, ve.valid), ty }
            }
            Expr::FillNull(x, v) => {
                let (vx, vv) = (self.expr(x)?, self.expr(v)?);
                let ty = unify(vx.ty, vv.ty).expect("checked");
                let (vx, vv) = (self.convert(vx, ty), self.convert(vv, ty));
                let b = &mut *self.b;
                V { val: b.ins().select(vx.valid, vx.val, vv.val), valid: b.ins().bor(vx.valid, vv.valid), ty }
            }
            Expr::Clip(x, lo, hi) => {
                let (vx, vl, vh) = (self.expr(x)?, self.expr(lo)?, self.expr(hi)?);
                let m = self.binary(BinaryOp::Max, vx, vl);
                self.binary(BinaryOp::Min, m, vh)
            }
            Expr::Cast(x, ty) => {
                let v = self.expr(x)?;
                self.convert(v, *ty)
            }
            Expr::Bucketize(x, bounds) => {
                let v = self.expr(x)?;
                let xf = self.as_f64(v);
                let b = &mut *self.b;
                let mut count = b.ins().iconst(types::I64, 0);
                for bound in bounds {
                    let c = b.ins().f64const(*bound);
                    let ge = b.ins().fcmp(FloatCC::GreaterThanOrEqual, xf, c);
                    let ge = b.ins().uextend(types::I64, ge);
                    count = b.ins().iadd(count, ge);
                }
                let ord = b.ins().fcmp(FloatCC::Ordered, xf, xf);
                V { val: count, valid: b.ins().band(v.valid, ord), ty: Type::Int64 }
            }
            Expr::Hash(x) => V { ty: Type::Int64, ..self.hashed(x)? },
            Expr::HashBucket(x, n) => {
                let h = self.hashed(x)?;
                V { val: self.b.ins().urem_imm_u(h.val, *n as i64), valid: h.valid, ty: Type::Int64 }
            }
            Expr::Cross(a, c, n) => match (small_range(a), small_range(c)) {
                // Two small ranges: the whole cross is a table of its results.
                (Some(ra), Some(rc)) if ra * rc <= CROSS_TABLE => {
                    let (va, vc) = (self.expr(a)?, self.expr(c)?);
                    let mut table = Vec::with_capacity((ra * rc) as usize);
                    for i in 0..ra {
                        let hi = crate::ir::hash_i64(i as i64);
                        for k in 0..rc {
                            table.push(crate::ir::hash_pair(hi, crate::ir::hash_i64(k as i64)) % n);
                        }
                    }
                    let b = &mut *self.b;
                    let last_a = b.ins().iconst(types::I64, ra as i64 - 1);
                    let ia = b.ins().umin(va.val, last_a);
                    let row = b.ins().imul_imm_u(ia, rc as i64);
                    let last_c = b.ins().iconst(types::I64, rc as i64 - 1);
                    let ic = b.ins().umin(vc.val, last_c);
                    let index = b.ins().iadd(row, ic);
                    let valid = b.ins().band(va.valid, vc.valid);
                    let val = self.table_at(table.into_boxed_slice(), index);
                    V { val, valid, ty: Type::Int64 }
                }
                _ => {
                    let (ha, hc) = (self.hashed(a)?, self.hashed(c)?);
                    let h = self.call("mlp_cross", &[ha.val, hc.val]);
                    let b = &mut *self.b;
                    V {
                        val: b.ins().urem_imm_u(h, *n as i64),
                        valid: b.ins().band(ha.valid, hc.valid),
                        ty: Type::Int64,
                    }
                }
            },
            Expr::Lookup(x, vocabulary) => {
                let h = self.hashed(x)?;
                let (table, p) = lookup_table(vocabulary)?;
                let addr = table.as_ptr() as i64;
                self.tables.push(table);
                let val = self.search(addr, p, vocabulary.len() as i64, h.val);
                V { val, valid: h.valid, ty: Type::Int64 }
            }
        })
    }

    fn unary(&mut self, op: UnaryOp, v: V) -> V {
        let f = |val| V { val, valid: v.valid, ty: Type::Float64 };
        match op {
            UnaryOp::IsNull => {
                let one = self.one();
                V { val: self.b.ins().bxor_imm_u(v.valid, 1), valid: one, ty: Type::Boolean }
            }
            UnaryOp::Not => V { val: self.b.ins().bxor_imm_u(v.val, 1), ..v },
            UnaryOp::Neg if v.ty == Type::Int64 => V { val: self.b.ins().ineg(v.val), ..v },
            UnaryOp::Abs if v.ty == Type::Int64 => V { val: self.b.ins().iabs(v.val), ..v },
            UnaryOp::Neg => {
                let x = self.as_f64(v);
                f(self.b.ins().fneg(x))
            }
            UnaryOp::Abs => {
                let x = self.as_f64(v);
                f(self.b.ins().fabs(x))
            }
            UnaryOp::Sqrt => {
                let x = self.as_f64(v);
                f(self.b.ins().sqrt(x))
            }
            UnaryOp::Log | UnaryOp::Log1p | UnaryOp::Exp | UnaryOp::Round | UnaryOp::Floor | UnaryOp::Ceil => {
                let x = self.as_f64(v);
                let func = match op {
                    UnaryOp::Log => "mlp_log",
                    UnaryOp::Log1p => "mlp_log1p",
                    UnaryOp::Exp => "mlp_exp",
                    UnaryOp::Round => "mlp_round",
                    UnaryOp::Floor => "mlp_floor",
                    _ => "mlp_ceil",
                };
                f(self.call(func, &[x]))
            }
        }
    }

    fn binary(&mut self, op: BinaryOp, va: V, vb: V) -> V {
        use BinaryOp::*;
        match op {
            And | Or => {
                let b = &mut *self.b;
                let both = b.ins().band(va.valid, vb.valid);
                // The operands that decide alone: a valid `false` for `and`, a valid `true` for `or`.
                let (da, db) = if op == And {
                    let na = b.ins().bxor_imm_u(va.val, 1);
                    let nb = b.ins().bxor_imm_u(vb.val, 1);
                    (b.ins().band(va.valid, na), b.ins().band(vb.valid, nb))
                } else {
                    (b.ins().band(va.valid, va.val), b.ins().band(vb.valid, vb.val))
                };
                let decided = b.ins().bor(da, db);
                let valid = b.ins().bor(both, decided);
                let val = if op == And { b.ins().bxor_imm_u(decided, 1) } else { decided };
                V { val, valid, ty: Type::Boolean }
            }
            _ => {
                let valid = self.b.ins().band(va.valid, vb.valid);
                let ints = va.ty == Type::Int64 && vb.ty == Type::Int64;
                let bools = va.ty == Type::Boolean && vb.ty == Type::Boolean;
                let strings = va.ty == Type::Utf8 && vb.ty == Type::Utf8;
                if op.is_comparison() {
                    let val = if ints || bools || strings {
                        let cc = match op {
                            Lt => IntCC::SignedLessThan,
                            Le => IntCC::SignedLessThanOrEqual,
                            Gt => IntCC::SignedGreaterThan,
                            Ge => IntCC::SignedGreaterThanOrEqual,
                            Eq => IntCC::Equal,
                            _ => IntCC::NotEqual,
                        };
                        self.b.ins().icmp(cc, va.val, vb.val)
                    } else {
                        let (x, y) = (self.as_f64(va), self.as_f64(vb));
                        let cc = match op {
                            Lt => FloatCC::LessThan,
                            Le => FloatCC::LessThanOrEqual,
                            Gt => FloatCC::GreaterThan,
                            Ge => FloatCC::GreaterThanOrEqual,
                            Eq => FloatCC::Equal,
                            _ => FloatCC::NotEqual,
                        };
                        self.b.ins().fcmp(cc, x, y)
                    };
                    return V { val, valid, ty: Type::Boolean };
                }
                if ints && op != Pow {
                    let b = &mut *self.b;
                    let (x, y) = (va.val, vb.val);
                    return match op {
                        Add => V { val: b.ins().iadd(x, y), valid, ty: Type::Int64 },
                        Sub => V { val: b.ins().isub(x, y), valid, ty: Type::Int64 },
                        Mul => V { val: b.ins().imul(x, y), valid, ty: Type::Int64 },
                        Min => V { val: b.ins().smin(x, y), valid, ty: Type::Int64 },
                        Max => V { val: b.ins().smax(x, y), valid, ty: Type::Int64 },
                        Rem => {
                            // By zero is null; by -1 is 0 (srem would trap on i64::MIN % -1).
                            let is_zero = b.ins().icmp_imm_s(IntCC::Equal, y, 0);
                            let is_m1 = b.ins().icmp_imm_s(IntCC::Equal, y, -1);
                            let unsafe_divisor = b.ins().bor(is_zero, is_m1);
                            let one = b.ins().iconst(types::I64, 1);
                            let safe = b.ins().select(unsafe_divisor, one, y);
                            let val = b.ins().srem(x, safe);
                            let nz = b.ins().bxor_imm_u(is_zero, 1);
                            V { val, valid: b.ins().band(valid, nz), ty: Type::Int64 }
                        }
                        _ => {
                            // Division: by zero is null; by -1 is a wrapping negation (sdiv
                            // would trap on i64::MIN / -1); the divisor is made safe first.
                            let is_zero = b.ins().icmp_imm_s(IntCC::Equal, y, 0);
                            let is_m1 = b.ins().icmp_imm_s(IntCC::Equal, y, -1);
                            let unsafe_divisor = b.ins().bor(is_zero, is_m1);
                            let one = b.ins().iconst(types::I64, 1);
                            let safe = b.ins().select(unsafe_divisor, one, y);
                            let q = b.ins().sdiv(x, safe);
                            let neg = b.ins().ineg(x);
                            let val = b.ins().select(is_m1, neg, q);
                            let nz = b.ins().bxor_imm_u(is_zero, 1);
                            V { val, valid: b.ins().band(valid, nz), ty: Type::Int64 }
                        }
                    };
                }
                let (x, y) = (self.as_f64(va), self.as_f64(vb));
                let val = match op {
                    Add => self.b.ins().fadd(x, y),
                    Sub => self.b.ins().fsub(x, y),
                    Mul => self.b.ins().fmul(x, y),
                    Div => self.b.ins().fdiv(x, y),
                    Min => self.b.ins().fmin(x, y),
                    Max => self.b.ins().fmax(x, y),
                    Rem => self.call("mlp_fmod", &[x, y]),
                    _ => self.call("mlp_pow", &[x, y]),
                };
                V { val, valid, ty: Type::Float64 }
            }
        }
    }
}
