// N-API addon: single-precision GEMM over OpenBLAS and fused kernels for the TF.js wasm backend
// and for the `native` backend (src/backend/nativeBackend.ts).
//
// The wasm backend keeps every tensor in one WebAssembly.Memory. The JS side passes
// Float32Array views on that memory, so the products run in place with no copy in or out.
// OpenBLAS is pinned to one thread and this file splits the work itself (over batch entries and
// over rows/columns of large products): one scheme that serves both the large dense products and
// the many small attention products, where OpenBLAS's own threading either does not kick in or
// costs more than the product.
//
// The split uses a small "help if you can" pool rather than OpenMP: work is cut into chunks that
// the calling thread and the helpers take from a shared counter, and the caller waits only for
// chunks a helper actually took. On a busy machine a helper that is not scheduled simply takes
// nothing, where an OpenMP barrier would stall every call for a scheduler tick (measured here:
// a 2 ms softmax became 8 ms with two OpenMP threads under load).
#include <node_api.h>
#include <cblas.h>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>
#include <algorithm>
#include <cstdio>
#include <string>

#ifndef NEUROPRUNE_SOURCE_HASH
#define NEUROPRUNE_SOURCE_HASH "unknown"
#endif

extern "C" {
void openblas_set_num_threads(int);
char *openblas_get_config(void);
}

// Elementwise loops are compiled for AVX-512, AVX2 and baseline x86-64; the loader picks the
// best the CPU has, so one build runs on any x86-64 machine.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TARGETS __attribute__((target_clones("avx512f", "avx2,fma", "default")))
#else
#define TARGETS
#endif

namespace {

// Threads per product (setThreads). Process-wide: every worker thread that loads the addon
// shares this one copy of it.
std::atomic<int> g_threads{1};

// Set on the pool's helpers and on a caller while it owns them: a parallelFor from there runs
// inline (it cannot take the helpers it is itself using).
thread_local bool t_inPool = false;

class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto &t : workers_) t.join();
  }

  // Runs f(0) .. f(n-1), on the calling thread and on up to `threads - 1` helpers.
  // One caller owns the helpers at a time: the job, its counter and its chunk count are the
  // owner's. Another thread (a second worker_thread using the addon) that finds them taken runs
  // its chunks itself rather than wait: the result does not depend on who ran which chunk.
  void run(size_t n, int threads, const std::function<void(size_t)> &f) {
    std::unique_lock<std::mutex> owner(owner_, std::defer_lock);
    if (threads <= 1 || n <= 1 || t_inPool || !owner.try_lock()) {
      for (size_t i = 0; i < n; i++) f(i);
      return;
    }
    t_inPool = true;
    ensure(threads - 1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &f;
      n_ = n;
      next_.store(0);
      open_ = true;
      maxHelpers_ = threads - 1;
      generation_++;
    }
    cv_.notify_all();
    for (size_t i; (i = next_.fetch_add(1)) < n;) f(i);
    {
      // No helper joins after this; those that joined finish the chunks they took.
      std::lock_guard<std::mutex> lock(mu_);
      open_ = false;
    }
    while (active_.load() != 0) std::this_thread::yield();
    t_inPool = false;
  }

 private:
  void ensure(int helpers) {
    while ((int)workers_.size() < helpers) workers_.emplace_back([this] { loop(); });
  }

  void loop() {
    t_inPool = true;
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (!open_ || joined_ >= maxHelpers_) continue;
      joined_++;
      active_.fetch_add(1);
      const std::function<void(size_t)> *f = job_;
      const size_t n = n_;
      lock.unlock();
      for (size_t i; (i = next_.fetch_add(1)) < n;) (*f)(i);
      lock.lock();
      joined_--;
      active_.fetch_sub(1);
    }
  }

  std::mutex owner_;  // held by the caller whose job the helpers run
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::thread> workers_;
  const std::function<void(size_t)> *job_ = nullptr;
  size_t n_ = 0;
  std::atomic<size_t> next_{0};
  std::atomic<int> active_{0};
  int joined_ = 0;
  int maxHelpers_ = 0;
  bool open_ = false;
  bool stop_ = false;
  uint64_t generation_ = 0;
};

void parallelFor(size_t n, int threads, const std::function<void(size_t)> &f) {
  // Created once, thread-safely, on first use; never freed: helpers live as long as the process.
  static Pool *pool = new Pool();
  pool->run(n, threads, f);
}

// Activation codes shared with src/backend/kernels/native.ts.
enum Act { LINEAR = 0, RELU = 1, RELU6 = 2, LEAKYRELU = 3, SIGMOID = 4, ELU = 5 };

struct Task {
  const float *a;
  const float *b;
  float *c;
  int m, n, k;
  int row0;   // first output row of this task (for the bias/activation epilogue)
  int col0;   // first output column
};

inline void epilogue(float *c, int rows, int cols, int ldc, int col0, const float *bias, int act, float alpha) {
  if (bias == nullptr && act == LINEAR) return;
  for (int i = 0; i < rows; i++) {
    float *row = c + (size_t)i * ldc;
    if (bias) for (int j = 0; j < cols; j++) row[j] += bias[col0 + j];
    switch (act) {
      case RELU: for (int j = 0; j < cols; j++) row[j] = row[j] > 0 ? row[j] : 0; break;
      case RELU6: for (int j = 0; j < cols; j++) row[j] = std::min(std::max(row[j], 0.0f), 6.0f); break;
      case LEAKYRELU: for (int j = 0; j < cols; j++) row[j] = row[j] > 0 ? row[j] : alpha * row[j]; break;
      case SIGMOID: for (int j = 0; j < cols; j++) row[j] = 1.0f / (1.0f + std::exp(-row[j])); break;
      case ELU: for (int j = 0; j < cols; j++) row[j] = row[j] > 0 ? row[j] : std::expm1(row[j]); break;
      default: break;
    }
  }
}

bool getF32(napi_env env, napi_value v, float **data, size_t *len) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_null || t == napi_undefined) { *data = nullptr; *len = 0; return true; }
  bool is;
  napi_is_typedarray(env, v, &is);
  if (!is) return false;
  napi_typedarray_type type;
  void *ptr;
  napi_value ab;
  size_t off;
  napi_get_typedarray_info(env, v, &type, len, &ptr, &ab, &off);
  if (type != napi_float32_array) return false;
  *data = static_cast<float *>(ptr);
  return true;
}

bool getI32(napi_env env, napi_value v, int32_t **data, size_t *len) {
  bool is;
  napi_is_typedarray(env, v, &is);
  if (!is) return false;
  napi_typedarray_type type;
  void *ptr;
  napi_value ab;
  size_t off;
  napi_get_typedarray_info(env, v, &type, len, &ptr, &ab, &off);
  if (type != napi_int32_array) return false;
  *data = static_cast<int32_t *>(ptr);
  return true;
}

// The arguments of one call, checked as they are read. The first problem found is kept and
// thrown as one JS error naming the function and the argument: a TypeError for a wrong type, a
// RangeError for a size that is not a non-negative integer or a buffer too small for the sizes.
constexpr double kMaxSize = 9007199254740992.0;  // 2^53: every integer up to here is a double

struct Args {
  napi_env env;
  const char *fn;
  std::vector<napi_value> v;
  std::string err;
  bool typeError = false;

  Args(napi_env e, napi_callback_info info, size_t n, const char *name) : env(e), fn(name), v(n) {
    size_t argc = n;
    napi_get_cb_info(e, info, &argc, v.data(), nullptr, nullptr);
    if (argc < n) fail(true, "expected " + std::to_string(n) + " arguments, got " + std::to_string(argc));
  }
  bool ok() const { return err.empty(); }
  void fail(bool type, const std::string &msg) {
    if (!ok()) return;
    err = std::string(fn) + ": " + msg;
    typeError = type;
  }
  // A size: a number that is an integer in [0, limit].
  size_t size(size_t i, const char *name, double limit = kMaxSize) {
    if (!ok()) return 0;
    napi_valuetype t;
    napi_typeof(env, v[i], &t);
    if (t != napi_number) { fail(true, std::string(name) + " must be a number"); return 0; }
    double d = 0;
    napi_get_value_double(env, v[i], &d);
    // NaN and the infinities by their bits: this file is compiled with -ffast-math, under which
    // the compiler may assume that no double is NaN and drop a comparison-based test.
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    const bool finite = ((bits >> 52) & 0x7ff) != 0x7ff;
    if (!finite || !(d >= 0 && d <= limit && d == std::floor(d))) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "%s must be an integer from 0 to %.17g, got %.17g", name, limit, d);
      fail(false, buf);
      return 0;
    }
    return (size_t)d;
  }
  // a * b, or an error when the product does not fit (so that it cannot wrap past a length check).
  size_t mul(size_t a, size_t b, const char *what) {
    size_t r = 0;
    if (__builtin_mul_overflow(a, b, &r) || (double)r > kMaxSize) { fail(false, std::string(what) + " is too large"); return 0; }
    return r;
  }
  double number(size_t i) {
    double d = 0;
    if (ok()) napi_get_value_double(env, v[i], &d);
    return d;
  }
  bool isNull(size_t i) {
    napi_valuetype t;
    napi_typeof(env, v[i], &t);
    return t == napi_null || t == napi_undefined;
  }
  // A Float32Array of at least `need` elements (`len` gets its length); null only if `optional`.
  float *f32(size_t i, const char *name, size_t need, size_t *len = nullptr, bool optional = false) {
    if (!ok()) return nullptr;
    float *p = nullptr;
    size_t n = 0;
    if (!getF32(env, v[i], &p, &n) || (!optional && isNull(i))) {
      fail(true, std::string(name) + " must be a Float32Array");
      return nullptr;
    }
    if (optional && isNull(i)) return nullptr;
    if (n < need) {
      // A detached view (its wasm memory grew) has length 0 and lands here too.
      fail(false, std::string(name) + " has " + std::to_string(n) + " elements, needs " + std::to_string(need));
      return nullptr;
    }
    if (len) *len = n;
    return p;
  }
  int32_t *i32(size_t i, const char *name, size_t *len) {
    if (!ok()) return nullptr;
    int32_t *p = nullptr;
    if (!getI32(env, v[i], &p, len)) { fail(true, std::string(name) + " must be an Int32Array"); return nullptr; }
    return p;
  }
  napi_value raise() {
    if (typeError) napi_throw_type_error(env, nullptr, err.c_str());
    else napi_throw_range_error(env, nullptr, err.c_str());
    return nullptr;
  }
};

// gemm(a, b, c, aOffsets, bOffsets, m, n, k, transA, transB, bias, act, alpha)
// For every batch entry i: C_i[m, n] = op(A at aOffsets[i]) @ op(B at bOffsets[i]), row-major,
// C_i at i*m*n. op(A) is A ([m,k]) or A^T (A stored [k,m]); likewise B ([k,n] or stored [n,k]).
// Then C += bias (length n), then the activation.
napi_value Gemm(napi_env env, napi_callback_info info) {
  Args A(env, info, 13, "gemm");
  // cblas takes int sizes.
  const double intMax = 2147483647.0;
  const size_t mz = A.size(5, "m", intMax), nz = A.size(6, "n", intMax), kz = A.size(7, "k", intMax);
  size_t la = 0, lb = 0, lc = 0, na = 0, nb = 0;
  float *a = A.f32(0, "a", 0, &la), *b = A.f32(1, "b", 0, &lb), *c = A.f32(2, "c", 0, &lc);
  int32_t *aoff = A.i32(3, "aOffsets", &na), *boff = A.i32(4, "bOffsets", &nb);
  float *bias = A.f32(10, "bias", nz, nullptr, true);
  const int act = (int)A.size(11, "activation", ELU);
  const float alpha = (float)A.number(12);
  bool ta = false, tb = false;
  if (A.ok()) {
    napi_get_value_bool(env, A.v[8], &ta);
    napi_get_value_bool(env, A.v[9], &tb);
  }
  const size_t batch = na;
  if (A.ok() && nb != batch) A.fail(false, "aOffsets and bOffsets differ in length");
  // Bounds: every operand must lie inside its view, so a wrong shape is an error, not a crash.
  const size_t sizeA = A.mul(mz, kz, "m * k"), sizeB = A.mul(kz, nz, "k * n");
  const size_t sizeC = A.mul(A.mul(batch, mz, "batch * m"), nz, "batch * m * n");
  for (size_t i = 0; A.ok() && i < batch; i++) {
    if (aoff[i] < 0 || boff[i] < 0 || (size_t)aoff[i] + sizeA > la || (size_t)boff[i] + sizeB > lb) {
      A.fail(false, "batch entry " + std::to_string(i) + ": operand offset out of bounds (a has " + std::to_string(la) +
             " elements, b " + std::to_string(lb) + ")");
    }
  }
  if (A.ok() && sizeC > lc) A.fail(false, "c has " + std::to_string(lc) + " elements, needs " + std::to_string(sizeC));
  if (!A.ok()) return A.raise();
  const int m = (int)mz, n = (int)nz, k = (int)kz;
  if (m == 0 || n == 0 || batch == 0) return nullptr;
  if (k == 0) {
    std::memset(c, 0, sizeof(float) * batch * m * n);
    for (size_t i = 0; i < batch; i++) epilogue(c + i * m * n, m, n, n, 0, bias, act, alpha);
    return nullptr;
  }

  const int lda = ta ? m : k;
  const int ldb = tb ? k : n;
  const double flops = 2.0 * batch * m * n * k;
  // Below ~2 MFLOP a product is over before a second thread wakes up.
  int nt = flops < 2e6 ? 1 : g_threads.load();
  // Split each product in `parts` along its larger output dimension when the batch alone cannot
  // give every thread several chunks (several, so that a helper that starts late still finds work
  // and one that is descheduled holds up little), keeping chunks above ~1 MFLOP.
  int parts = 1;
  if (nt > 1 && batch < (size_t)nt * 4) {
    const double perEntry = 2.0 * m * n * k;
    parts = (int)std::min<double>((nt * 4 + batch - 1) / batch, std::max(1.0, perEntry / 1e6));
    parts = std::max(1, std::min(parts, std::max(m, n) / 16));
  }

  std::vector<Task> tasks;
  tasks.reserve(batch * parts);
  for (size_t i = 0; i < batch; i++) {
    const float *ai = a + aoff[i];
    const float *bi = b + boff[i];
    float *ci = c + i * (size_t)m * n;
    if (parts == 1) { tasks.push_back({ai, bi, ci, m, n, k, 0, 0}); continue; }
    if (m >= n) {
      for (int p = 0; p < parts; p++) {
        int r0 = (int)((int64_t)m * p / parts), r1 = (int)((int64_t)m * (p + 1) / parts);
        if (r1 <= r0) continue;
        // Rows of op(A): row r starts at r*lda (not transposed) or at column r (transposed).
        const float *ap = ta ? ai + r0 : ai + (size_t)r0 * lda;
        tasks.push_back({ap, bi, ci + (size_t)r0 * n, r1 - r0, n, k, r0, 0});
      }
    } else {
      for (int p = 0; p < parts; p++) {
        int c0 = (int)((int64_t)n * p / parts), c1 = (int)((int64_t)n * (p + 1) / parts);
        if (c1 <= c0) continue;
        const float *bp = tb ? bi + (size_t)c0 * ldb : bi + c0;
        tasks.push_back({ai, bp, ci + c0, m, c1 - c0, k, 0, c0});
      }
    }
  }
  const int ntasks = (int)tasks.size();
  parallelFor(ntasks, nt, [&](size_t t) {
    const Task &T = tasks[t];
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, T.m, T.n, T.k, 1.0f, T.a,
                lda, T.b, ldb, 0.0f, T.c, n);
    epilogue(T.c, T.m, T.n, n, T.col0, bias, act, alpha);
  });
  return nullptr;
}


// ---------------------------------------------------------------------------------------------
// Fused elementwise kernels of a transformer block (exact GELU, softmax gradient, LayerNorm).
// TF.js composes each of these from 4-10 separate ops, each a full pass over memory; here one
// pass, vectorised (glibc's libmvec supplies expf/erff over vectors) and split over threads.

// Work below this many elements stays on the calling thread.
constexpr size_t kParallelMin = 1 << 15;

TARGETS void geluFwd(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

// d/dx [x * Phi(x)] = Phi(x) + x * phi(x)
TARGETS void geluBwd(const float *dy, const float *x, float *dx, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const float v = x[i];
    const float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
    const float pdf = 0.39894228040143268f * expf(-0.5f * v * v);
    dx[i] = dy[i] * (cdf + v * pdf);
  }
}

// dx = y * (dy - sum(dy * y)) over each row of `cols`.
TARGETS void softmaxBwdRows(const float *dy, const float *y, float *dx, size_t r0, size_t r1, size_t cols) {
  for (size_t r = r0; r < r1; r++) {
    const float *g = dy + r * cols, *p = y + r * cols;
    float *o = dx + r * cols;
    float dot = 0;
    for (size_t j = 0; j < cols; j++) dot += g[j] * p[j];
    for (size_t j = 0; j < cols; j++) o[j] = p[j] * (g[j] - dot);
  }
}

TARGETS void softmaxFwdRows(const float *x, float *y, size_t r0, size_t r1, size_t cols) {
  for (size_t r = r0; r < r1; r++) {
    const float *a = x + r * cols;
    float *o = y + r * cols;
    float mx = -FLT_MAX;  // not -INFINITY: this file is built with -ffast-math
    for (size_t j = 0; j < cols; j++) mx = a[j] > mx ? a[j] : mx;
    float sum = 0;
    for (size_t j = 0; j < cols; j++) { o[j] = expf(a[j] - mx); sum += o[j]; }
    const float inv = 1.0f / sum;
    for (size_t j = 0; j < cols; j++) o[j] *= inv;
  }
}

// y = (x - mean) * rstd * gamma + beta; mean and rstd saved per row for the gradient.
// Statistics in double: rows are short (<= a few thousand) and this keeps the result at least
// as accurate as TF.js's two-pass moments.
TARGETS void layerNormFwdRows(const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd,
                              size_t r0, size_t r1, size_t cols, float eps) {
  for (size_t r = r0; r < r1; r++) {
    const float *a = x + r * cols;
    float *o = y + r * cols;
    double s = 0;
    for (size_t j = 0; j < cols; j++) s += a[j];
    const float mu = (float)(s / cols);
    double v = 0;
    for (size_t j = 0; j < cols; j++) { const double d = a[j] - mu; v += d * d; }
    const float rs = 1.0f / std::sqrt((float)(v / cols) + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (size_t j = 0; j < cols; j++) o[j] = (a[j] - mu) * rs * gamma[j] + beta[j];
  }
}

// xhat = (x - mean) * rstd, g = dy * gamma:
// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)); dgamma += dy * xhat; dbeta += dy.
TARGETS void layerNormBwdRows(const float *dy, const float *x, const float *mean, const float *rstd, const float *gamma,
                              float *dx, float *dgamma, float *dbeta, size_t r0, size_t r1, size_t cols) {
  for (size_t r = r0; r < r1; r++) {
    const float *g = dy + r * cols, *a = x + r * cols;
    float *o = dx + r * cols;
    const float mu = mean[r], rs = rstd[r];
    float sg = 0, sgx = 0;
    for (size_t j = 0; j < cols; j++) {
      const float xh = (a[j] - mu) * rs;
      const float gg = g[j] * gamma[j];
      sg += gg;
      sgx += gg * xh;
      dgamma[j] += g[j] * xh;
      dbeta[j] += g[j];
    }
    sg /= cols;
    sgx /= cols;
    for (size_t j = 0; j < cols; j++) {
      const float xh = (a[j] - mu) * rs;
      o[j] = rs * (g[j] * gamma[j] - sg - xh * sgx);
    }
  }
}

// out[o, i] = sum_r x[o, r, i]: TF.js's wasm Sum transposes first whenever the reduced axes
// are not the innermost, which is the case of every bias gradient (a sum over the rows of dy).
TARGETS void sumMiddle(const float *x, float *out, size_t o0, size_t o1, size_t i0, size_t i1, size_t r, size_t inner) {
  for (size_t o = o0; o < o1; o++) {
    float *dst = out + o * inner;
    for (size_t i = i0; i < i1; i++) dst[i] = 0;
    for (size_t k = 0; k < r; k++) {
      const float *src = x + (o * r + k) * inner;
      for (size_t i = i0; i < i1; i++) dst[i] += src[i];
    }
  }
}

// sum over the last axis (inner == 1)
TARGETS void sumLast(const float *x, float *out, size_t o0, size_t o1, size_t r) {
  for (size_t o = o0; o < o1; o++) {
    const float *src = x + o * r;
    float s = 0;
    for (size_t k = 0; k < r; k++) s += src[k];
    out[o] = s;
  }
}

// ---------------------------------------------------------------------------------------------
// NeuroPrune's regularizers (value and gradient in one pass) and the AdamW update, in place.

// R_mlp over rows [r0, r1) of w [rows, cols]: c_i = #{|w| < eps} / cols, value += c_i * sum|w|,
// and, when `grad` is given, grad = scale * c_i * sign(w) (0 at w = 0, and never -0).
// Returns this range's part of the value.
TARGETS double regMlpRows(const float *w, float *grad, size_t r0, size_t r1, size_t cols, float eps, double scale) {
  double total = 0;
  for (size_t r = r0; r < r1; r++) {
    const float *a = w + r * cols;
    double abs = 0;
    size_t small = 0;
    for (size_t j = 0; j < cols; j++) {
      const float x = std::fabs(a[j]);
      abs += x;
      small += x < eps ? 1 : 0;
    }
    const double cd = (double)small / (double)cols;
    total += cd * abs;
    if (!grad) continue;
    float *o = grad + r * cols;
    const float c = (float)(cd * scale);
    if (c == 0) {
      std::memset(o, 0, sizeof(float) * cols);
      continue;
    }
    for (size_t j = 0; j < cols; j++) o[j] = a[j] > 0 ? c : (a[j] < 0 ? -c : 0.0f);
  }
  return total;
}

// Column sums of |w| over rows [r0, r1) of a [*, cols] matrix, added to `sums`.
TARGETS void absColSums(const float *w, double *sums, size_t r0, size_t r1, size_t cols) {
  for (size_t r = r0; r < r1; r++) {
    const float *a = w + r * cols;
    for (size_t j = 0; j < cols; j++) sums[j] += std::fabs(a[j]);
  }
}

TARGETS void signTimesSlope(const float *w, float *grad, const float *slope, size_t r0, size_t r1, size_t cols) {
  for (size_t r = r0; r < r1; r++) {
    const float *a = w + r * cols;
    float *o = grad + r * cols;
    for (size_t j = 0; j < cols; j++) o[j] = a[j] > 0 ? slope[j] : (a[j] < 0 ? -slope[j] : 0.0f);
  }
}

// torch.optim.AdamW's update of one parameter, in place:
//   p *= decay; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= stepSize * m / (sqrt(v) / sqrtC2 + eps)
// with decay = 1 - lr * wd (1 without weight decay), stepSize = lr / (1 - b1^t), sqrtC2 = sqrt(1 - b2^t).
TARGETS void adamwRange(float *p, float *m, float *v, const float *g, size_t n, float decay, float b1, float omb1,
                        float b2, float omb2, float stepSize, float sqrtC2, float eps) {
  for (size_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float mi = b1 * m[i] + omb1 * gi;
    const float vi = b2 * v[i] + omb2 * (gi * gi);
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) / sqrtC2 + eps;
    p[i] = p[i] * decay - stepSize * (mi / denom);
  }
}

int threadsFor(size_t work) { return work < kParallelMin ? 1 : g_threads.load(); }

// Splits [0, n) into contiguous ranges of about kParallelMin elements of work (at most 8 per
// thread) and runs f(begin, end, chunkIndex) over them; returns the number of chunks.
template <typename F>
size_t parallelRanges(size_t n, size_t work, F f) {
  const int nt = threadsFor(work);
  if (nt <= 1 || n < 2) { f(0, n, 0); return 1; }
  size_t chunks = std::min<size_t>(n, std::min<size_t>((size_t)nt * 8, std::max<size_t>(1, work / kParallelMin)));
  parallelFor(chunks, nt, [&](size_t c) {
    const size_t a = n * c / chunks, b = n * (c + 1) / chunks;
    if (b > a) f(a, b, (int)c);
  });
  return chunks;
}

// The number of chunks parallelRanges will use, for sizing per-chunk partial results.
size_t rangeChunks(size_t n, size_t work) {
  const int nt = threadsFor(work);
  if (nt <= 1 || n < 2) return 1;
  return std::min<size_t>(n, std::min<size_t>((size_t)nt * 8, std::max<size_t>(1, work / kParallelMin)));
}

// gelu(x, y, n)
napi_value Gelu(napi_env env, napi_callback_info info) {
  Args A(env, info, 3, "gelu");
  const size_t n = A.size(2, "n");
  const float *x = A.f32(0, "x", n); float *y = A.f32(1, "y", n);
  if (!A.ok()) return A.raise();
  parallelRanges(n, n, [&](size_t a, size_t b, int) { geluFwd(x + a, y + a, b - a); });
  return nullptr;
}

// geluGrad(dy, x, dx, n)
napi_value GeluGrad(napi_env env, napi_callback_info info) {
  Args A(env, info, 4, "geluGrad");
  const size_t n = A.size(3, "n");
  const float *dy = A.f32(0, "dy", n), *x = A.f32(1, "x", n); float *dx = A.f32(2, "dx", n);
  if (!A.ok()) return A.raise();
  parallelRanges(n, n, [&](size_t a, size_t b, int) { geluBwd(dy + a, x + a, dx + a, b - a); });
  return nullptr;
}

// softmax(x, y, rows, cols)
napi_value Softmax(napi_env env, napi_callback_info info) {
  Args A(env, info, 4, "softmax");
  const size_t rows = A.size(2, "rows"), cols = A.size(3, "cols"), size = A.mul(rows, cols, "rows * cols");
  const float *x = A.f32(0, "x", size); float *y = A.f32(1, "y", size);
  if (!A.ok()) return A.raise();
  parallelRanges(rows, size, [&](size_t a, size_t b, int) { softmaxFwdRows(x, y, a, b, cols); });
  return nullptr;
}

// softmaxGrad(dy, y, dx, rows, cols)
napi_value SoftmaxGrad(napi_env env, napi_callback_info info) {
  Args A(env, info, 5, "softmaxGrad");
  const size_t rows = A.size(3, "rows"), cols = A.size(4, "cols"), size = A.mul(rows, cols, "rows * cols");
  const float *dy = A.f32(0, "dy", size), *y = A.f32(1, "y", size); float *dx = A.f32(2, "dx", size);
  if (!A.ok()) return A.raise();
  parallelRanges(rows, size, [&](size_t a, size_t b, int) { softmaxBwdRows(dy, y, dx, a, b, cols); });
  return nullptr;
}

// layerNorm(x, gamma, beta, y, mean, rstd, rows, cols, eps)
napi_value LayerNorm(napi_env env, napi_callback_info info) {
  Args A(env, info, 9, "layerNorm");
  const size_t rows = A.size(6, "rows"), cols = A.size(7, "cols"), size = A.mul(rows, cols, "rows * cols");
  const double eps = A.number(8);
  const float *x = A.f32(0, "x", size), *gamma = A.f32(1, "gamma", cols), *beta = A.f32(2, "beta", cols);
  float *y = A.f32(3, "y", size), *mean = A.f32(4, "mean", rows), *rstd = A.f32(5, "rstd", rows);
  if (!A.ok()) return A.raise();
  parallelRanges(rows, size, [&](size_t a, size_t b, int) {
    layerNormFwdRows(x, gamma, beta, y, mean, rstd, a, b, cols, (float)eps);
  });
  return nullptr;
}

// layerNormGrad(dy, x, mean, rstd, gamma, dx, dgamma, dbeta, rows, cols)
napi_value LayerNormGrad(napi_env env, napi_callback_info info) {
  Args A(env, info, 10, "layerNormGrad");
  const size_t rows = A.size(8, "rows"), cols = A.size(9, "cols"), size = A.mul(rows, cols, "rows * cols");
  const float *dy = A.f32(0, "dy", size), *x = A.f32(1, "x", size), *mean = A.f32(2, "mean", rows), *rstd = A.f32(3, "rstd", rows),
              *gamma = A.f32(4, "gamma", cols);
  float *dx = A.f32(5, "dx", size), *dgamma = A.f32(6, "dgamma", cols), *dbeta = A.f32(7, "dbeta", cols);
  if (!A.ok()) return A.raise();
  // Per-chunk partial sums of dgamma/dbeta, added in chunk order: the result does not depend on
  // which thread ran which chunk (deterministic for a given thread count).
  const size_t nt = rangeChunks(rows, size);
  std::vector<float> part(nt * 2 * cols, 0.0f);
  parallelRanges(rows, size, [&](size_t a, size_t b, int t) {
    float *pg = part.data() + (size_t)t * 2 * cols;
    layerNormBwdRows(dy, x, mean, rstd, gamma, dx, pg, pg + cols, a, b, cols);
  });
  for (size_t j = 0; j < cols; j++) { dgamma[j] = 0; dbeta[j] = 0; }
  for (size_t t = 0; t < nt; t++) {
    const float *pg = part.data() + (size_t)t * 2 * cols;
    for (size_t j = 0; j < cols; j++) { dgamma[j] += pg[j]; dbeta[j] += pg[cols + j]; }
  }
  return nullptr;
}

// sumAxis(x, out, outer, r, inner): x viewed as [outer, r, inner], out as [outer, inner].
napi_value SumAxis(napi_env env, napi_callback_info info) {
  Args A(env, info, 5, "sumAxis");
  const size_t outer = A.size(2, "outer"), r = A.size(3, "r"), inner = A.size(4, "inner");
  const size_t outSize = A.mul(outer, inner, "outer * inner"), work = A.mul(outSize, r, "outer * r * inner");
  const float *x = A.f32(0, "x", work); float *out = A.f32(1, "out", outSize);
  if (!A.ok()) return A.raise();
  if (inner == 1) {
    parallelRanges(outer, work, [&](size_t a, size_t b, int) { sumLast(x, out, a, b, r); });
  } else if (outer >= (size_t)g_threads.load() * 4) {
    parallelRanges(outer, work, [&](size_t a, size_t b, int) { sumMiddle(x, out, a, b, 0, inner, r, inner); });
  } else {
    // Few outer slices (a bias gradient has one): split the reduced rows, each chunk summing
    // into its own partial row, then add the partials in chunk order (deterministic).
    for (size_t o = 0; o < outer; o++) {
      const float *xo = x + o * r * inner;
      const size_t chunks = rangeChunks(r, r * inner);
      std::vector<float> part(chunks * inner);
      parallelRanges(r, r * inner, [&](size_t a, size_t b, int c) {
        sumMiddle(xo + a * inner, part.data() + (size_t)c * inner, 0, 1, 0, inner, b - a, inner);
      });
      float *dst = out + o * inner;
      std::memcpy(dst, part.data(), sizeof(float) * inner);
      for (size_t c = 1; c < chunks; c++)
        for (size_t i = 0; i < inner; i++) dst[i] += part[c * inner + i];
    }
  }
  return nullptr;
}

napi_value Number(napi_env env, double x) {
  napi_value out;
  napi_create_double(env, x, &out);
  return out;
}

// regMlp(w, grad | null, rows, cols, eps, scale) -> value; with `grad`, also writes scale * dR/dw.
napi_value RegMlp(napi_env env, napi_callback_info info) {
  Args A(env, info, 6, "regMlp");
  const size_t rows = A.size(2, "rows"), cols = A.size(3, "cols"), size = A.mul(rows, cols, "rows * cols");
  const float *w = A.f32(0, "w", size);
  float *grad = A.f32(1, "grad", size, nullptr, true);
  const float eps = (float)A.number(4);
  const double scale = A.number(5);
  if (!A.ok()) return A.raise();
  // Per-chunk partial values, added in chunk order (deterministic for a given thread count).
  std::vector<double> part(rangeChunks(rows, size), 0.0);
  parallelRanges(rows, size, [&](size_t a, size_t b, int c) { part[c] = regMlpRows(w, grad, a, b, cols, eps, scale); });
  double total = 0;
  for (double x : part) total += x;
  return Number(env, total);
}

// regAttn(q, k, v, gq | null, gk | null, gv | null, rowsQ, rowsK, rowsV, cols, delta, scale) -> value:
// s_j = sum of |w[:, j]| over Q, K and V; value = sum_j sqrt(s_j + delta); with the gradients,
// also writes scale * sign(w) / (2 sqrt(s_j + delta)).
napi_value RegAttn(napi_env env, napi_callback_info info) {
  Args A(env, info, 12, "regAttn");
  const size_t rq = A.size(6, "rowsQ"), rk = A.size(7, "rowsK"), rv = A.size(8, "rowsV"), cols = A.size(9, "cols");
  const size_t sq = A.mul(rq, cols, "rowsQ * cols"), sk = A.mul(rk, cols, "rowsK * cols"), sv = A.mul(rv, cols, "rowsV * cols");
  const float *w[3] = {A.f32(0, "q", sq), A.f32(1, "k", sk), A.f32(2, "v", sv)};
  const bool withGrad = A.ok() && !A.isNull(3);
  float *g[3] = {nullptr, nullptr, nullptr};
  if (withGrad) { g[0] = A.f32(3, "gq", sq); g[1] = A.f32(4, "gk", sk); g[2] = A.f32(5, "gv", sv); }
  const double delta = A.number(10);
  const double scale = A.number(11);
  const size_t total = rq + rk + rv;
  const size_t work = A.mul(total, cols, "(rowsQ + rowsK + rowsV) * cols");
  if (!A.ok()) return A.raise();
  const size_t rows[3] = {rq, rk, rv};
  // Apply f(matrix, begin, end) over the rows [a, b) of the stacked [Q; K; V].
  auto split = [&](size_t a, size_t b, const std::function<void(int, size_t, size_t)> &f) {
    size_t start = 0;
    for (int mat = 0; mat < 3; mat++) {
      const size_t lo = std::max(a, start), hi = std::min(b, start + rows[mat]);
      if (hi > lo) f(mat, lo - start, hi - start);
      start += rows[mat];
    }
  };
  const size_t chunks = rangeChunks(total, work);
  std::vector<double> part(chunks * cols, 0.0);
  parallelRanges(total, work, [&](size_t a, size_t b, int c) {
    double *sums = part.data() + (size_t)c * cols;
    split(a, b, [&](int mat, size_t r0, size_t r1) { absColSums(w[mat], sums, r0, r1, cols); });
  });
  std::vector<float> slope(cols);
  double value = 0;
  for (size_t j = 0; j < cols; j++) {
    double s = 0;
    for (size_t c = 0; c < chunks; c++) s += part[c * cols + j];
    const double root = std::sqrt(s + delta);
    value += root;
    slope[j] = (float)(scale / (2.0 * root));
  }
  if (withGrad && scale == 0) {
    // Not through the slopes: -0 for the negative weights.
    for (int mat = 0; mat < 3; mat++) std::memset(g[mat], 0, sizeof(float) * rows[mat] * cols);
  } else if (withGrad) {
    parallelRanges(total, work, [&](size_t a, size_t b, int) {
      split(a, b, [&](int mat, size_t r0, size_t r1) { signTimesSlope(w[mat], g[mat], slope.data(), r0, r1, cols); });
    });
  }
  return Number(env, value);
}

// adamw(p, m, v, g, n, lr, beta1, beta2, eps, weightDecay, step): one update of p, m and v in place.
napi_value AdamW(napi_env env, napi_callback_info info) {
  Args A(env, info, 11, "adamw");
  const size_t n = A.size(4, "n");
  float *p = A.f32(0, "p", n), *m = A.f32(1, "m", n), *v = A.f32(2, "v", n);
  const float *g = A.f32(3, "g", n);
  const double lr = A.number(5), b1 = A.number(6), b2 = A.number(7);
  const double eps = A.number(8), wd = A.number(9), t = A.number(10);
  if (!A.ok()) return A.raise();
  const float decay = (float)(1.0 - lr * wd);
  const float stepSize = (float)(lr / (1.0 - std::pow(b1, t)));
  const float sqrtC2 = (float)std::sqrt(1.0 - std::pow(b2, t));
  parallelRanges(n, n, [&](size_t a, size_t b, int) {
    adamwRange(p + a, m + a, v + a, g + a, b - a, decay, (float)b1, (float)(1.0 - b1), (float)b2, (float)(1.0 - b2), stepSize,
               sqrtC2, (float)eps);
  });
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Elementwise arithmetic with NumPy broadcasting, and Transpose, for the `native` TF.js backend.
// TF.js's cpu backend runs both in JavaScript with an index-to-coordinates conversion (and two
// small array allocations) per element whenever an operand broadcasts or a transpose is not the
// identity: 100-200 ns per element, which made a bias add over [4096, 1536] cost more than the
// product before it. Here the dimensions are first collapsed (dims of extent 1 dropped, adjacent
// dims merged where both operands step through them alike), so the inner loop runs over the
// longest contiguous run.

enum BinOp { ADD = 0, SUB = 1, MUL = 2, DIV = 3 };

// Under -ffast-math a division by a value that is constant over a loop (a broadcast divisor) may
// become a multiplication by its reciprocal: at most 1 ulp from TF.js's quotient.
template <int OP>
inline float apply(float x, float y) {
  if (OP == ADD) return x + y;
  if (OP == SUB) return x - y;
  if (OP == MUL) return x * y;
  return x / y;
}

// out[0..n) = a[i * sa] op b[i * sb], sa and sb each 0 or 1.
template <int OP>
TARGETS void binaryRun(const float *a, const float *b, float *out, size_t n, int sa, int sb) {
  if (sa && sb) for (size_t i = 0; i < n; i++) out[i] = apply<OP>(a[i], b[i]);
  else if (sa) { const float y = b[0]; for (size_t i = 0; i < n; i++) out[i] = apply<OP>(a[i], y); }
  else if (sb) { const float x = a[0]; for (size_t i = 0; i < n; i++) out[i] = apply<OP>(x, b[i]); }
  else { const float v = apply<OP>(a[0], b[0]); for (size_t i = 0; i < n; i++) out[i] = v; }
}

struct Dims {
  // Collapsed extents (outermost first) and each operand's stride in elements (0 = broadcast).
  std::vector<size_t> extent, sa, sb;
};

// out = broadcast(a) op broadcast(b), shapes given padded to one rank.
Dims collapse(const std::vector<size_t> &out, const std::vector<size_t> &as, const std::vector<size_t> &bs) {
  const size_t r = out.size();
  std::vector<size_t> stA(r), stB(r);
  size_t ma = 1, mb = 1;
  for (size_t i = r; i-- > 0;) {
    stA[i] = as[i] == 1 ? 0 : ma;
    stB[i] = bs[i] == 1 ? 0 : mb;
    ma *= as[i];
    mb *= bs[i];
  }
  Dims d;
  for (size_t i = 0; i < r; i++) {
    if (out[i] == 1) continue;
    if (!d.extent.empty()) {
      const size_t j = d.extent.size() - 1;
      // Merge with the previous dim when each operand's stride there is this dim's stride times
      // this extent (contiguous across both), or 0 in both.
      if (d.sa[j] == stA[i] * out[i] && d.sb[j] == stB[i] * out[i]) {
        d.extent[j] *= out[i];
        d.sa[j] = stA[i];
        d.sb[j] = stB[i];
        continue;
      }
    }
    d.extent.push_back(out[i]);
    d.sa.push_back(stA[i]);
    d.sb.push_back(stB[i]);
  }
  if (d.extent.empty()) { d.extent.push_back(1); d.sa.push_back(0); d.sb.push_back(0); }
  return d;
}

template <int OP>
void binaryRows(const float *a, const float *b, float *out, const Dims &d, size_t r0, size_t r1) {
  const size_t rank = d.extent.size(), inner = d.extent[rank - 1];
  const int ia = d.sa[rank - 1] ? 1 : 0, ib = d.sb[rank - 1] ? 1 : 0;
  // Coordinates of row r0 over the outer dims, then an odometer.
  std::vector<size_t> idx(rank, 0);
  size_t offA = 0, offB = 0, rem = r0;
  for (size_t i = rank - 1; i-- > 0;) {
    idx[i] = rem % d.extent[i];
    rem /= d.extent[i];
    offA += idx[i] * d.sa[i];
    offB += idx[i] * d.sb[i];
  }
  for (size_t row = r0; row < r1; row++) {
    binaryRun<OP>(a + offA, b + offB, out + row * inner, inner, ia, ib);
    for (size_t i = rank - 1; i-- > 0;) {
      offA += d.sa[i];
      offB += d.sb[i];
      if (++idx[i] < d.extent[i]) break;
      offA -= d.sa[i] * d.extent[i];
      offB -= d.sb[i] * d.extent[i];
      idx[i] = 0;
    }
  }
}

// Reads an Int32Array of dims (each >= 0) into `dims`; false (with the error set) otherwise.
bool readDims(Args &A, size_t i, const char *name, std::vector<size_t> &dims) {
  size_t n = 0;
  int32_t *p = A.i32(i, name, &n);
  if (!A.ok()) return false;
  dims.resize(n);
  for (size_t j = 0; j < n; j++) {
    if (p[j] < 0) { A.fail(false, std::string(name) + " has a negative dimension"); return false; }
    dims[j] = (size_t)p[j];
  }
  return true;
}

size_t product(Args &A, const std::vector<size_t> &dims, const char *name) {
  size_t p = 1;
  for (size_t d : dims) p = A.mul(p, d, name);
  return p;
}

// binary(a, b, out, op, outShape, aShape, bShape): out = a op b with NumPy broadcasting; the three
// shapes are Int32Arrays of one rank (the caller pads with leading 1s); op 0 add, 1 sub, 2 mul, 3 div.
napi_value Binary(napi_env env, napi_callback_info info) {
  Args A(env, info, 7, "binary");
  const size_t op = A.size(3, "op", DIV);
  std::vector<size_t> os, as, bs;
  readDims(A, 4, "outShape", os) && readDims(A, 5, "aShape", as) && readDims(A, 6, "bShape", bs);
  if (A.ok() && (as.size() != os.size() || bs.size() != os.size())) A.fail(false, "outShape, aShape and bShape differ in rank");
  for (size_t i = 0; A.ok() && i < os.size(); i++) {
    if ((as[i] != os[i] && as[i] != 1) || (bs[i] != os[i] && bs[i] != 1)) {
      A.fail(false, "dimension " + std::to_string(i) + " of aShape/bShape (" + std::to_string(as[i]) + ", " + std::to_string(bs[i]) +
             ") does not broadcast to " + std::to_string(os[i]));
    }
  }
  const size_t nOut = product(A, os, "outShape size"), nA = product(A, as, "aShape size"), nB = product(A, bs, "bShape size");
  const float *a = A.f32(0, "a", nA), *b = A.f32(1, "b", nB);
  float *out = A.f32(2, "out", nOut);
  if (!A.ok()) return A.raise();
  if (nOut == 0) return nullptr;
  const Dims d = collapse(os, as, bs);
  const size_t rows = nOut / d.extent.back();
  auto run = [&](auto tag) {
    constexpr int OP = decltype(tag)::value;
    parallelRanges(rows, nOut, [&](size_t r0, size_t r1, int) { binaryRows<OP>(a, b, out, d, r0, r1); });
  };
  switch (op) {
    case ADD: run(std::integral_constant<int, ADD>()); break;
    case SUB: run(std::integral_constant<int, SUB>()); break;
    case MUL: run(std::integral_constant<int, MUL>()); break;
    default: run(std::integral_constant<int, DIV>()); break;
  }
  return nullptr;
}

// Copies out[row, 0..n) = x[off + j * stride] (stride 1: a contiguous run).
TARGETS void gatherRun(const float *x, float *out, size_t n, size_t stride) {
  if (stride == 1) { std::memcpy(out, x, sizeof(float) * n); return; }
  for (size_t j = 0; j < n; j++) out[j] = x[j * stride];
}

// transpose(x, out, shape, perm): out = x with its dims permuted (out dim i = x dim perm[i]).
// 4-byte elements: int32 tensors are passed as a Float32Array over the same memory.
napi_value Transpose(napi_env env, napi_callback_info info) {
  Args A(env, info, 4, "transpose");
  std::vector<size_t> shape, perm;
  readDims(A, 2, "shape", shape) && readDims(A, 3, "perm", perm);
  const size_t r = shape.size();
  if (A.ok() && perm.size() != r) A.fail(false, "perm has " + std::to_string(perm.size()) + " entries, shape " + std::to_string(r));
  std::vector<bool> seen(r, false);
  for (size_t i = 0; A.ok() && i < r; i++) {
    if (perm[i] >= r || seen[perm[i]]) A.fail(false, "perm is not a permutation of 0.." + std::to_string(r == 0 ? 0 : r - 1));
    else seen[perm[i]] = true;
  }
  const size_t n = product(A, shape, "shape size");
  const float *x = A.f32(0, "x", n);
  float *out = A.f32(1, "out", n);
  if (!A.ok()) return A.raise();
  if (n == 0) return nullptr;
  std::vector<size_t> inStride(r);
  for (size_t i = r, s = 1; i-- > 0;) { inStride[i] = s; s *= shape[i]; }
  // Output dims (extent, stride in x), size-1 dims dropped, runs contiguous in x merged.
  std::vector<size_t> ext, st;
  for (size_t i = 0; i < r; i++) {
    const size_t e = shape[perm[i]], s = inStride[perm[i]];
    if (e == 1) continue;
    if (!ext.empty() && st.back() == s * e) { ext.back() *= e; st.back() = s; continue; }
    ext.push_back(e);
    st.push_back(s);
  }
  if (ext.empty()) { out[0] = x[0]; return nullptr; }
  const size_t rank = ext.size(), inner = ext[rank - 1], innerStride = st[rank - 1];
  const size_t rows = n / inner;
  parallelRanges(rows, n, [&](size_t r0, size_t r1, int) {
    std::vector<size_t> idx(rank, 0);
    size_t off = 0, rem = r0;
    for (size_t i = rank - 1; i-- > 0;) {
      idx[i] = rem % ext[i];
      rem /= ext[i];
      off += idx[i] * st[i];
    }
    for (size_t row = r0; row < r1; row++) {
      gatherRun(x + off, out + row * inner, inner, innerStride);
      for (size_t i = rank - 1; i-- > 0;) {
        off += st[i];
        if (++idx[i] < ext[i]) break;
        off -= st[i] * ext[i];
        idx[i] = 0;
      }
    }
  });
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Dropout from a counter-based hash: element i is kept when hash(seed, i) >> 8 >= threshold
// (threshold = round(rate * 2^24)), and then scaled by `scale` = 1 / (1 - rate). No state and no
// stored mask: the gradient is the same call on dy with the same seed, and any chunk of the
// tensor can be computed by any thread. src/backend/kernels/dropout.ts computes the same hash in
// JavaScript for the backends without the addon, so every backend draws the same masks.

inline uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

TARGETS void dropoutRange(const float *x, float *y, size_t a, size_t b, uint32_t seedHash, uint32_t threshold, float scale) {
  for (size_t i = a; i < b; i++) {
    const uint32_t h = fmix32(seedHash + (uint32_t)i * 0x9e3779b1u);
    y[i] = (h >> 8) >= threshold ? x[i] * scale : 0.0f;
  }
}

// dropout(x, y, n, seed, threshold, scale)
napi_value Dropout(napi_env env, napi_callback_info info) {
  Args A(env, info, 6, "dropout");
  const size_t n = A.size(2, "n", 4294967296.0);
  const size_t seed = A.size(3, "seed", 4294967295.0), threshold = A.size(4, "threshold", 16777216.0);
  const double scale = A.number(5);
  const float *x = A.f32(0, "x", n);
  float *y = A.f32(1, "y", n);
  if (!A.ok()) return A.raise();
  const uint32_t seedHash = fmix32((uint32_t)seed ^ 0x5bd1e995u);
  parallelRanges(n, n, [&](size_t a, size_t b, int) { dropoutRange(x, y, a, b, seedHash, (uint32_t)threshold, (float)scale); });
  return nullptr;
}

// scatterAddRows(rows, updates, out, sliceSize, numSlices): out = zeros, then
// out[rows[u], :] += updates[u, :] for every u (ScatterNd into zeros, the gradient of a gather).
// One thread: rows may repeat, and this is one pass over the updates.
napi_value ScatterAddRows(napi_env env, napi_callback_info info) {
  Args A(env, info, 5, "scatterAddRows");
  size_t nRows = 0;
  const int32_t *rows = A.i32(0, "rows", &nRows);
  const size_t sliceSize = A.size(3, "sliceSize"), numSlices = A.size(4, "numSlices");
  const float *upd = A.f32(1, "updates", A.mul(nRows, sliceSize, "rows * sliceSize"));
  float *out = A.f32(2, "out", A.mul(numSlices, sliceSize, "numSlices * sliceSize"));
  for (size_t u = 0; A.ok() && u < nRows; u++) {
    if (rows[u] < 0 || (size_t)rows[u] >= numSlices) {
      A.fail(false, "row " + std::to_string(rows[u]) + " (update " + std::to_string(u) + ") is outside [0, " + std::to_string(numSlices) + ")");
    }
  }
  if (!A.ok()) return A.raise();
  std::memset(out, 0, sizeof(float) * numSlices * sliceSize);
  for (size_t u = 0; u < nRows; u++) {
    float *dst = out + (size_t)rows[u] * sliceSize;
    const float *src = upd + u * sliceSize;
    for (size_t k = 0; k < sliceSize; k++) dst[k] += src[k];
  }
  return nullptr;
}

int processors() { return (int)std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)); }

// setThreads(n): threads per product, 0 for one per processor; returns the value in force.
napi_value SetThreads(napi_env env, napi_callback_info info) {
  Args A(env, info, 1, "setThreads");
  int n = (int)A.size(0, "n", 4096);
  if (!A.ok()) return A.raise();
  if (n == 0) n = processors();
  g_threads = n;
  napi_value out;
  napi_create_int32(env, g_threads, &out);
  return out;
}

napi_value Info(napi_env env, napi_callback_info) {
  napi_value obj, threads, config;
  napi_create_object(env, &obj);
  napi_create_int32(env, g_threads, &threads);
  napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &config);
  napi_set_named_property(env, obj, "threads", threads);
  napi_set_named_property(env, obj, "blas", config);
  return obj;
}

napi_value Init(napi_env env, napi_value exports) {
  // Once per process, not once per worker thread that loads the addon (each gets an Init): a
  // worker must not reset the thread count the main thread set.
  static std::once_flag once;
  std::call_once(once, [] {
    // OpenBLAS must not start its own pool on top of ours: one thread per call.
    openblas_set_num_threads(1);
    g_threads = processors();
  });
  // Which native/blas.cc this build is (native/build.js passes its hash): the loader refuses an
  // addon built from another version.
  napi_value stamp;
  napi_create_string_utf8(env, NEUROPRUNE_SOURCE_HASH, NAPI_AUTO_LENGTH, &stamp);
  napi_set_named_property(env, exports, "sourceHash", stamp);
  napi_property_descriptor props[] = {
      {"gemm", nullptr, Gemm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumAxis", nullptr, SumAxis, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gelu", nullptr, Gelu, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"geluGrad", nullptr, GeluGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmax", nullptr, Softmax, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmaxGrad", nullptr, SoftmaxGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"layerNorm", nullptr, LayerNorm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"layerNormGrad", nullptr, LayerNormGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"regMlp", nullptr, RegMlp, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"regAttn", nullptr, RegAttn, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamw", nullptr, AdamW, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binary", nullptr, Binary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"transpose", nullptr, Transpose, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"dropout", nullptr, Dropout, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"scatterAddRows", nullptr, ScatterAddRows, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
