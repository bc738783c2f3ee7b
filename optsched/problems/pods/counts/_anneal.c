/* The packing search of pods-pack in C: simulated annealing of pods over nodes.
 *
 * The same search as pack_kernel.py (numba), which is used when this module was not
 * built (no C compiler at install). It exists because loading numba and a cached
 * kernel takes about 0.9 s in a fresh process, most of a 1 s limit; this module
 * imports in about a millisecond. The method: docs/methods/pods-count-model.md
 * ("Drop and pack").
 *
 * anneal(node, klass, load, cap, need, weight, key, kload, eligible, ptr, targets,
 *        iterations, temperature, seed) -> (exceeded capacities left, moves tried)
 *
 * The arguments are pack_kernel.anneal's. Every array is C-contiguous: int64 except
 * weight (float64, one per resource and one for anti-affinity) and eligible (bool);
 * cap is one row of at least one resource per node; node, load and kload are updated
 * in place. Every type, length and index is checked before the search starts
 * (TypeError, ValueError), so no input makes it read or write outside its buffers.
 * The interpreter lock is released while the search runs. An editable install builds
 * it in place: after editing this file, run the install again. Its random numbers are not
 * numba's: a seed gives another run than the numba kernel's, of the same search.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define FOCUS_TRIES 8 /* draws spent looking for a pod on an overflowing node */

/* splitmix64 (Steele, Lea and Flood 2014): small state, good enough for annealing. */
static uint64_t next_random(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int64_t below(uint64_t *state, int64_t n) { /* uniform in [0, n), n > 0 */
    return (int64_t)(next_random(state) % (uint64_t)n);
}

static double uniform(uint64_t *state) { /* uniform in [0, 1) */
    return (double)(next_random(state) >> 11) * (1.0 / 9007199254740992.0);
}

static int64_t over(int64_t value, int64_t limit) { return value > limit ? value - limit : 0; }

typedef struct {
    int64_t *node, *load, *kload;
    const int64_t *klass, *cap, *need, *key, *ptr, *targets;
    const double *weight;
    const uint8_t *eligible;
    Py_ssize_t n_pods, n_nodes, n_res, n_keys, n_classes, n_targets;
} State;

static int64_t exceeded(const State *s, int64_t n) { /* capacities exceeded on node n */
    int64_t bad = 0;
    for (Py_ssize_t r = 0; r < s->n_res; r++) bad += s->load[n * s->n_res + r] > s->cap[n * s->n_res + r];
    for (Py_ssize_t k = 0; k < s->n_keys; k++) bad += s->kload[n * s->n_keys + k] > 1;
    return bad;
}

static void search(const State *s, int64_t *bad_of, Py_ssize_t iterations, double temperature,
                   uint64_t seed, int64_t *bad_out, Py_ssize_t *tried_out) {
    uint64_t rng = seed;
    const Py_ssize_t R = s->n_res, K = s->n_keys;
    int64_t bad = 0;
    for (Py_ssize_t n = 0; n < s->n_nodes; n++) bad += bad_of[n] = exceeded(s, n);
    *tried_out = 0;
    if (s->n_pods == 0) {
        *bad_out = bad;
        return;
    }
    for (Py_ssize_t it = 0; it < iterations; it++) {
        if (bad == 0) {
            *bad_out = 0;
            *tried_out = it;
            return;
        }
        int64_t i = below(&rng, s->n_pods);
        for (int t = 0; t < FOCUS_TRIES && bad_of[s->node[i]] == 0; t++) i = below(&rng, s->n_pods);
        const int64_t a = s->node[i], ci = s->klass[i];
        int64_t b, j = -1, cj = -1;
        if (uniform(&rng) < 0.5) { /* move pod i to another node of its class */
            const int64_t lo = s->ptr[ci], hi = s->ptr[ci + 1];
            if (hi - lo < 2) continue;
            b = s->targets[lo + below(&rng, hi - lo)];
            if (b == a) continue;
        } else { /* swap pods i and j */
            j = below(&rng, s->n_pods);
            b = s->node[j];
            cj = s->klass[j];
            if (b == a || cj == ci || !s->eligible[ci * s->n_nodes + b] || !s->eligible[cj * s->n_nodes + a])
                continue;
        }
        double delta = 0.0;
        for (Py_ssize_t r = 0; r < R; r++) {
            const int64_t d = s->need[ci * R + r] - (j >= 0 ? s->need[cj * R + r] : 0);
            if (d == 0) continue;
            const int64_t la = s->load[a * R + r], lb = s->load[b * R + r];
            const int64_t ca = s->cap[a * R + r], cb = s->cap[b * R + r];
            delta += s->weight[r] * (double)(over(la - d, ca) + over(lb + d, cb) - over(la, ca) - over(lb, cb));
        }
        const int64_t ki = s->key[ci], kj = j >= 0 ? s->key[cj] : -1;
        if (ki != kj) {
            const int64_t keys[2] = {ki, kj}, signs[2] = {1, -1};
            for (int q = 0; q < 2; q++) {
                const int64_t k = keys[q], sign = signs[q];
                if (k < 0) continue;
                const int64_t ka = s->kload[a * K + k], kb = s->kload[b * K + k];
                delta += s->weight[R] * (double)(over(ka - sign, 1) + over(kb + sign, 1) - over(ka, 1) - over(kb, 1));
            }
        }
        if (delta > 0 && uniform(&rng) >= exp(-delta / temperature)) continue;
        for (Py_ssize_t r = 0; r < R; r++) {
            const int64_t d = s->need[ci * R + r] - (j >= 0 ? s->need[cj * R + r] : 0);
            s->load[a * R + r] -= d;
            s->load[b * R + r] += d;
        }
        if (ki != kj) {
            if (ki >= 0) {
                s->kload[a * K + ki] -= 1;
                s->kload[b * K + ki] += 1;
            }
            if (kj >= 0) {
                s->kload[b * K + kj] -= 1;
                s->kload[a * K + kj] += 1;
            }
        }
        s->node[i] = b;
        if (j >= 0) s->node[j] = a;
        bad -= bad_of[a] + bad_of[b];
        bad_of[a] = exceeded(s, a);
        bad_of[b] = exceeded(s, b);
        bad += bad_of[a] + bad_of[b];
    }
    *bad_out = bad;
    *tried_out = iterations;
}

/* Acquire argument q's C-contiguous buffer of the expected item type; its length in
 * items, or -1 with TypeError/ValueError/BufferError set. */
static Py_ssize_t acquire(PyObject *obj, Py_buffer *view, int q) {
    static const char *names[11] = {"node", "klass", "load", "cap", "need", "weight", "key",
                                    "kload", "eligible", "ptr", "targets"};
    const int writable = q == 0 || q == 2 || q == 7; /* node, load, kload */
    const char kind = q == 5 ? 'd' : q == 8 ? '?' : 'i';
    const Py_ssize_t size = kind == '?' ? 1 : 8;
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    const char *format = view->format == NULL ? "B" : view->format;
    const char code = format[strlen(format) - 1];
    const int ok = view->itemsize == size &&
                   (kind == 'i' ? (code == 'l' || code == 'q') : code == kind);
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "anneal: %s must be an array of %s", names[q],
                     kind == 'd' ? "float64" : kind == '?' ? "bool" : "int64");
        return -1;
    }
    return view->len / size;
}

static int expect(Py_ssize_t have, Py_ssize_t want, const char *name) {
    if (have != want) {
        PyErr_Format(PyExc_ValueError, "anneal: %s holds %zd items, expected %zd", name, have, want);
        return 0;
    }
    return 1;
}

static int in_range(const int64_t *values, Py_ssize_t n, int64_t lo, int64_t hi, const char *name) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (values[i] < lo || values[i] >= hi) {
            PyErr_Format(PyExc_ValueError, "anneal: %s[%zd] = %lld is outside [%lld, %lld)", name, i,
                         (long long)values[i], (long long)lo, (long long)hi);
            return 0;
        }
    return 1;
}

/* Acquire the buffers, fill the state's sizes and check every length and index. */
static int check(State *s, PyObject **arrays, Py_buffer *v) {
    Py_ssize_t n[11];
    for (int q = 0; q < 11; q++)
        if ((n[q] = acquire(arrays[q], &v[q], q)) < 0) return 0;
    s->n_pods = n[0];
    s->n_res = n[5] - 1;
    s->n_classes = n[6];
    s->n_targets = n[10];
    if (s->n_res < 1 || n[3] == 0 || n[3] % s->n_res != 0) {
        PyErr_SetString(PyExc_ValueError,
                        "anneal: weight needs a weight per resource and one more, cap a row per node");
        return 0;
    }
    const Py_ssize_t n_nodes = s->n_nodes = n[3] / s->n_res;
    if (n[7] % n_nodes != 0) {
        PyErr_SetString(PyExc_ValueError, "anneal: kload is not one row per node");
        return 0;
    }
    s->n_keys = n[7] / n_nodes;
    if (!expect(n[1], s->n_pods, "klass") || !expect(n[2], n_nodes * s->n_res, "load") ||
        !expect(n[3], n_nodes * s->n_res, "cap") || !expect(n[4], s->n_classes * s->n_res, "need") ||
        !expect(n[8], s->n_classes * n_nodes, "eligible") || !expect(n[9], s->n_classes + 1, "ptr"))
        return 0;
    s->node = v[0].buf;
    s->klass = v[1].buf;
    s->load = v[2].buf;
    s->cap = v[3].buf;
    s->need = v[4].buf;
    s->weight = v[5].buf;
    s->key = v[6].buf;
    s->kload = v[7].buf;
    s->eligible = v[8].buf;
    s->ptr = v[9].buf;
    s->targets = v[10].buf;
    if (!in_range(s->node, s->n_pods, 0, n_nodes, "node") ||
        !in_range(s->klass, s->n_pods, 0, s->n_classes, "klass") ||
        !in_range(s->key, s->n_classes, -1, s->n_keys, "key") ||
        !in_range(s->ptr, s->n_classes + 1, 0, s->n_targets + 1, "ptr") ||
        !in_range(s->targets, s->n_targets, 0, n_nodes, "targets"))
        return 0;
    for (Py_ssize_t c = 0; c < s->n_classes; c++)
        if (s->ptr[c] > s->ptr[c + 1]) {
            PyErr_Format(PyExc_ValueError, "anneal: ptr decreases at %zd", c);
            return 0;
        }
    return 1;
}

static PyObject *anneal(PyObject *self, PyObject *args) {
    PyObject *arrays[11];
    Py_buffer v[11] = {{0}};
    Py_ssize_t iterations;
    double temperature;
    unsigned long long seed;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOndK:anneal", &arrays[0], &arrays[1], &arrays[2],
                          &arrays[3], &arrays[4], &arrays[5], &arrays[6], &arrays[7], &arrays[8],
                          &arrays[9], &arrays[10], &iterations, &temperature, &seed))
        return NULL;
    PyObject *result = NULL;
    State s;
    int64_t *bad_of = NULL, bad = 0;
    Py_ssize_t tried = 0;
    if (!check(&s, arrays, v)) goto done;
    if (!(temperature > 0.0) || iterations < 0) {
        PyErr_SetString(PyExc_ValueError,
                        "anneal: temperature must be positive and iterations not negative");
        goto done;
    }
    bad_of = PyMem_RawMalloc((size_t)s.n_nodes * sizeof(int64_t));
    if (bad_of == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    search(&s, bad_of, iterations, temperature, (uint64_t)seed, &bad, &tried);
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("(Ln)", (long long)bad, tried);
done:
    PyMem_RawFree(bad_of);
    for (int q = 0; q < 11; q++)
        if (v[q].obj != NULL) PyBuffer_Release(&v[q]);
    return result;
}

static PyMethodDef methods[] = {
    {"anneal", anneal, METH_VARARGS,
     "Anneal for up to `iterations` moves; stop once nothing overflows. "
     "Returns (exceeded capacities left, moves tried)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_anneal",
    .m_doc = "The packing search of pods-pack, in C.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__anneal(void) { return PyModule_Create(&module); }
