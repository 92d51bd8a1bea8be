// N-API addon: single-precision GEMM over OpenBLAS for the TF.js wasm backend.
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

int g_threads = 1;

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
  void run(size_t n, int threads, const std::function<void(size_t)> &f) {
    if (threads <= 1 || n <= 1) {
      for (size_t i = 0; i < n; i++) f(i);
      return;
    }
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
  }

 private:
  void ensure(int helpers) {
    while ((int)workers_.size() < helpers) workers_.emplace_back([this] { loop(); });
  }

  void loop() {
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

Pool *g_pool = nullptr;

void parallelFor(size_t n, int threads, const std::function<void(size_t)> &f) {
  if (!g_pool) g_pool = new Pool();  // never freed: helpers live as long as the process
  g_pool->run(n, threads, f);
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

int32_t getInt(napi_env env, napi_value v) {
  int32_t x = 0;
  napi_get_value_int32(env, v, &x);
  return x;
}

// gemm(a, b, c, aOffsets, bOffsets, m, n, k, transA, transB, bias, act, alpha)
// For every batch entry i: C_i[m, n] = op(A at aOffsets[i]) @ op(B at bOffsets[i]), row-major,
// C_i at i*m*n. op(A) is A ([m,k]) or A^T (A stored [k,m]); likewise B ([k,n] or stored [n,k]).
// Then C += bias (length n), then the activation.
napi_value Gemm(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 13) { napi_throw_error(env, nullptr, "gemm: expected 13 arguments"); return nullptr; }
  float *a, *b, *c, *bias;
  size_t la, lb, lc, lbias, na, nb;
  int32_t *aoff, *boff;
  if (!getF32(env, argv[0], &a, &la) || !getF32(env, argv[1], &b, &lb) || !getF32(env, argv[2], &c, &lc) ||
      !getI32(env, argv[3], &aoff, &na) || !getI32(env, argv[4], &boff, &nb) || !getF32(env, argv[10], &bias, &lbias)) {
    napi_throw_type_error(env, nullptr, "gemm: a, b, c, bias must be Float32Array, offsets Int32Array");
    return nullptr;
  }
  const int m = getInt(env, argv[5]), n = getInt(env, argv[6]), k = getInt(env, argv[7]);
  bool ta = false, tb = false;
  napi_get_value_bool(env, argv[8], &ta);
  napi_get_value_bool(env, argv[9], &tb);
  const int act = getInt(env, argv[11]);
  double alphaD = 0;
  napi_get_value_double(env, argv[12], &alphaD);
  const float alpha = (float)alphaD;
  const size_t batch = na;
  if (nb != batch) { napi_throw_range_error(env, nullptr, "gemm: offset arrays differ in length"); return nullptr; }
  if (bias && lbias < (size_t)n) { napi_throw_range_error(env, nullptr, "gemm: bias shorter than n"); return nullptr; }
  // Bounds: every operand must lie inside its view, so a wrong shape is an error, not a crash.
  const size_t sizeA = (size_t)m * k, sizeB = (size_t)k * n;
  for (size_t i = 0; i < batch; i++) {
    if (aoff[i] < 0 || boff[i] < 0 || (size_t)aoff[i] + sizeA > la || (size_t)boff[i] + sizeB > lb) {
      napi_throw_range_error(env, nullptr, "gemm: operand offset out of bounds");
      return nullptr;
    }
  }
  if (batch * (size_t)m * n > lc) { napi_throw_range_error(env, nullptr, "gemm: output too small"); return nullptr; }
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
  int nt = flops < 2e6 ? 1 : g_threads;
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

int threadsFor(size_t work) { return work < kParallelMin ? 1 : g_threads; }

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

struct Args {
  napi_env env;
  std::vector<napi_value> v;
  bool ok = true;
  Args(napi_env e, napi_callback_info info, size_t n) : env(e), v(n) {
    size_t argc = n;
    napi_get_cb_info(e, info, &argc, v.data(), nullptr, nullptr);
    if (argc < n) ok = false;
  }
  float *f32(size_t i, size_t need) {
    float *p; size_t len;
    if (!ok || !getF32(env, v[i], &p, &len) || p == nullptr || len < need) { ok = false; return nullptr; }
    return p;
  }
  size_t size(size_t i) {
    double d = 0;
    if (napi_get_value_double(env, v[i], &d) != napi_ok || d < 0) ok = false;
    return (size_t)d;
  }
  napi_value fail(const char *what) {
    napi_throw_type_error(env, nullptr, what);
    return nullptr;
  }
};

// gelu(x, y, n)
napi_value Gelu(napi_env env, napi_callback_info info) {
  Args A(env, info, 3);
  const size_t n = A.size(2);
  const float *x = A.f32(0, n); float *y = A.f32(1, n);
  if (!A.ok) return A.fail("gelu(x, y, n): Float32Arrays of at least n elements");
  parallelRanges(n, n, [&](size_t a, size_t b, int) { geluFwd(x + a, y + a, b - a); });
  return nullptr;
}

// geluGrad(dy, x, dx, n)
napi_value GeluGrad(napi_env env, napi_callback_info info) {
  Args A(env, info, 4);
  const size_t n = A.size(3);
  const float *dy = A.f32(0, n), *x = A.f32(1, n); float *dx = A.f32(2, n);
  if (!A.ok) return A.fail("geluGrad(dy, x, dx, n): Float32Arrays of at least n elements");
  parallelRanges(n, n, [&](size_t a, size_t b, int) { geluBwd(dy + a, x + a, dx + a, b - a); });
  return nullptr;
}

// softmax(x, y, rows, cols)
napi_value Softmax(napi_env env, napi_callback_info info) {
  Args A(env, info, 4);
  const size_t rows = A.size(2), cols = A.size(3);
  const float *x = A.f32(0, rows * cols); float *y = A.f32(1, rows * cols);
  if (!A.ok) return A.fail("softmax(x, y, rows, cols): Float32Arrays of rows*cols elements");
  parallelRanges(rows, rows * cols, [&](size_t a, size_t b, int) { softmaxFwdRows(x, y, a, b, cols); });
  return nullptr;
}

// softmaxGrad(dy, y, dx, rows, cols)
napi_value SoftmaxGrad(napi_env env, napi_callback_info info) {
  Args A(env, info, 5);
  const size_t rows = A.size(3), cols = A.size(4);
  const float *dy = A.f32(0, rows * cols), *y = A.f32(1, rows * cols); float *dx = A.f32(2, rows * cols);
  if (!A.ok) return A.fail("softmaxGrad(dy, y, dx, rows, cols): Float32Arrays of rows*cols elements");
  parallelRanges(rows, rows * cols, [&](size_t a, size_t b, int) { softmaxBwdRows(dy, y, dx, a, b, cols); });
  return nullptr;
}

// layerNorm(x, gamma, beta, y, mean, rstd, rows, cols, eps)
napi_value LayerNorm(napi_env env, napi_callback_info info) {
  Args A(env, info, 9);
  const size_t rows = A.size(6), cols = A.size(7);
  double eps = 0;
  napi_get_value_double(env, A.v[8], &eps);
  const float *x = A.f32(0, rows * cols), *gamma = A.f32(1, cols), *beta = A.f32(2, cols);
  float *y = A.f32(3, rows * cols), *mean = A.f32(4, rows), *rstd = A.f32(5, rows);
  if (!A.ok) return A.fail("layerNorm(x, gamma, beta, y, mean, rstd, rows, cols, eps): Float32Arrays of matching sizes");
  parallelRanges(rows, rows * cols, [&](size_t a, size_t b, int) {
    layerNormFwdRows(x, gamma, beta, y, mean, rstd, a, b, cols, (float)eps);
  });
  return nullptr;
}

// layerNormGrad(dy, x, mean, rstd, gamma, dx, dgamma, dbeta, rows, cols)
napi_value LayerNormGrad(napi_env env, napi_callback_info info) {
  Args A(env, info, 10);
  const size_t rows = A.size(8), cols = A.size(9);
  const float *dy = A.f32(0, rows * cols), *x = A.f32(1, rows * cols), *mean = A.f32(2, rows), *rstd = A.f32(3, rows),
              *gamma = A.f32(4, cols);
  float *dx = A.f32(5, rows * cols), *dgamma = A.f32(6, cols), *dbeta = A.f32(7, cols);
  if (!A.ok) return A.fail("layerNormGrad(dy, x, mean, rstd, gamma, dx, dgamma, dbeta, rows, cols): Float32Arrays of matching sizes");
  // Per-chunk partial sums of dgamma/dbeta, added in chunk order: the result does not depend on
  // which thread ran which chunk (deterministic for a given thread count).
  const size_t nt = rangeChunks(rows, rows * cols);
  std::vector<float> part(nt * 2 * cols, 0.0f);
  parallelRanges(rows, rows * cols, [&](size_t a, size_t b, int t) {
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
  Args A(env, info, 5);
  const size_t outer = A.size(2), r = A.size(3), inner = A.size(4);
  const float *x = A.f32(0, outer * r * inner); float *out = A.f32(1, outer * inner);
  if (!A.ok) return A.fail("sumAxis(x, out, outer, r, inner): Float32Arrays of matching sizes");
  const size_t work = outer * r * inner;
  if (inner == 1) {
    parallelRanges(outer, work, [&](size_t a, size_t b, int) { sumLast(x, out, a, b, r); });
  } else if (outer >= (size_t)g_threads * 4) {
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

double getDouble(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

bool isNull(napi_env env, napi_value v) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  return t == napi_null || t == napi_undefined;
}

// regMlp(w, grad | null, rows, cols, eps, scale) -> value; with `grad`, also writes scale * dR/dw.
napi_value RegMlp(napi_env env, napi_callback_info info) {
  Args A(env, info, 6);
  const size_t rows = A.size(2), cols = A.size(3);
  const float *w = A.f32(0, rows * cols);
  float *grad = A.ok && isNull(env, A.v[1]) ? nullptr : A.f32(1, rows * cols);
  if (!A.ok) return A.fail("regMlp(w, grad, rows, cols, eps, scale): Float32Arrays of rows*cols elements");
  const float eps = (float)getDouble(env, A.v[4]);
  const double scale = getDouble(env, A.v[5]);
  // Per-chunk partial values, added in chunk order (deterministic for a given thread count).
  std::vector<double> part(rangeChunks(rows, rows * cols), 0.0);
  parallelRanges(rows, rows * cols, [&](size_t a, size_t b, int c) { part[c] = regMlpRows(w, grad, a, b, cols, eps, scale); });
  double total = 0;
  for (double x : part) total += x;
  return Number(env, total);
}

// regAttn(q, k, v, gq | null, gk | null, gv | null, rowsQ, rowsK, rowsV, cols, delta, scale) -> value:
// s_j = sum of |w[:, j]| over Q, K and V; value = sum_j sqrt(s_j + delta); with the gradients,
// also writes scale * sign(w) / (2 sqrt(s_j + delta)).
napi_value RegAttn(napi_env env, napi_callback_info info) {
  Args A(env, info, 12);
  const size_t rq = A.size(6), rk = A.size(7), rv = A.size(8), cols = A.size(9);
  const float *w[3] = {A.f32(0, rq * cols), A.f32(1, rk * cols), A.f32(2, rv * cols)};
  const bool withGrad = A.ok && !isNull(env, A.v[3]);
  float *g[3] = {nullptr, nullptr, nullptr};
  if (withGrad) { g[0] = A.f32(3, rq * cols); g[1] = A.f32(4, rk * cols); g[2] = A.f32(5, rv * cols); }
  if (!A.ok) return A.fail("regAttn(q, k, v, gq, gk, gv, rowsQ, rowsK, rowsV, cols, delta, scale): Float32Arrays of matching sizes");
  const double delta = getDouble(env, A.v[10]);
  const double scale = getDouble(env, A.v[11]);
  const size_t rows[3] = {rq, rk, rv};
  const size_t total = rq + rk + rv;
  // Apply f(matrix, begin, end) over the rows [a, b) of the stacked [Q; K; V].
  auto split = [&](size_t a, size_t b, const std::function<void(int, size_t, size_t)> &f) {
    size_t start = 0;
    for (int mat = 0; mat < 3; mat++) {
      const size_t lo = std::max(a, start), hi = std::min(b, start + rows[mat]);
      if (hi > lo) f(mat, lo - start, hi - start);
      start += rows[mat];
    }
  };
  const size_t chunks = rangeChunks(total, total * cols);
  std::vector<double> part(chunks * cols, 0.0);
  parallelRanges(total, total * cols, [&](size_t a, size_t b, int c) {
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
    parallelRanges(total, total * cols, [&](size_t a, size_t b, int) {
      split(a, b, [&](int mat, size_t r0, size_t r1) { signTimesSlope(w[mat], g[mat], slope.data(), r0, r1, cols); });
    });
  }
  return Number(env, value);
}

// adamw(p, m, v, g, n, lr, beta1, beta2, eps, weightDecay, step): one update of p, m and v in place.
napi_value AdamW(napi_env env, napi_callback_info info) {
  Args A(env, info, 11);
  const size_t n = A.size(4);
  float *p = A.f32(0, n), *m = A.f32(1, n), *v = A.f32(2, n);
  const float *g = A.f32(3, n);
  if (!A.ok) return A.fail("adamw(p, m, v, g, n, lr, beta1, beta2, eps, weightDecay, step): Float32Arrays of n elements");
  const double lr = getDouble(env, A.v[5]), b1 = getDouble(env, A.v[6]), b2 = getDouble(env, A.v[7]);
  const double eps = getDouble(env, A.v[8]), wd = getDouble(env, A.v[9]), t = getDouble(env, A.v[10]);
  const float decay = (float)(1.0 - lr * wd);
  const float stepSize = (float)(lr / (1.0 - std::pow(b1, t)));
  const float sqrtC2 = (float)std::sqrt(1.0 - std::pow(b2, t));
  parallelRanges(n, n, [&](size_t a, size_t b, int) {
    adamwRange(p + a, m + a, v + a, g + a, b - a, decay, (float)b1, (float)(1.0 - b1), (float)b2, (float)(1.0 - b2), stepSize,
               sqrtC2, (float)eps);
  });
  return nullptr;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int n = argc > 0 ? getInt(env, argv[0]) : 0;
  if (n <= 0) n = (int)std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
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
  // OpenBLAS must not start its own pool on top of ours: one thread per call.
  openblas_set_num_threads(1);
  g_threads = (int)std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
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
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
