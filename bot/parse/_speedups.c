/* bot.parse._speedups: the hot string loops of the parse stage, in C (an optional accelerator).
 *
 * For bot.parse.normalise.html_to_text:
 *   strip_tags(s)  == normalise._strip_tags_loop(s), or None for the one case the loop's quirk decides
 *                     (a script/style/noscript/template element in text holding U+0130, whose
 *                     lower-casing is two characters long): the caller then runs the Python loop.
 *   collapse(s)    == " ".join(s.split())
 *   unescape(s)    == html.unescape(s), once configure() has handed over html's tables
 * For bot.parse.guards:
 *   count(data, needle) == data.count(needle) for bytes and a non-empty needle (memchr on its first
 *                     byte: several times faster for the rare bytes the guards count)
 *
 * Each is one linear pass, whatever the input. Where the module is not built, the Python forms run;
 * the tests hold the two to the same results (tests/test_normalise_equivalence.py). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* Before 3.12 a str built by the legacy API may need PyUnicode_READY before its data is read. */
#if PY_VERSION_HEX < 0x030C0000
#define ready(s) PyUnicode_READY(s)
#else
#define ready(s) 0
#endif

#define MAX_NAME 15
#define IS_ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define IS_NAME(c) (IS_ALPHA(c) || ((c) >= '0' && (c) <= '9') || (c) == ':' || (c) == '-')

/* normalise._DROP_TAGS */
static const char *const DROP[] = {"noscript", "script", "style", "template", NULL};

/* normalise._BLOCK_TAGS */
static const char *const BLOCK[] = {
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", NULL};

/* DROP and BLOCK in one open-addressing hash table (filled in at import): what a tag name is. */
enum { OTHER = 0, IS_BLOCK = 1, IS_DROP = 2 };
#define SLOTS 128 /* a power of two, over twice the 39 names */
static const char *slot_name[SLOTS];
static unsigned char slot_kind[SLOTS];

static unsigned
name_hash(const char *name)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *name; name++)
        h = (h ^ (unsigned char)*name) * 16777619u;
    return h;
}

static void
add_names(const char *const *list, unsigned char kind)
{
    for (; *list; list++) {
        unsigned h = name_hash(*list) & (SLOTS - 1);
        while (slot_name[h] != NULL)
            h = (h + 1) & (SLOTS - 1);
        slot_name[h] = *list;
        slot_kind[h] = kind;
    }
}

static int
tag_kind(const char *name)
{
    unsigned h = name_hash(name) & (SLOTS - 1);
    while (slot_name[h] != NULL) {
        if (strcmp(slot_name[h], name) == 0)
            return slot_kind[h];
        h = (h + 1) & (SLOTS - 1);
    }
    return OTHER;
}

/* str.split()'s whitespace among the first 256 code points (filled in at import). */
static unsigned char space_1[256];

#define CH Py_UCS1
#define CH_IS_BYTE
#define FN(name) name##_1
#define SPACE(c) space_1[(c)]
#include "_speedups_impl.h"
#undef CH
#undef CH_IS_BYTE
#undef FN
#undef SPACE

/* Py_UNICODE_ISSPACE without a function call for most characters: above U+00FF, Unicode's whitespace
 * is U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F and U+3000 (a test checks every code point
 * against str.split()). */
static inline int
space_wide(Py_UCS4 c)
{
    if (c < 256)
        return space_1[c];
    if (c < 0x1680)
        return 0;
    return c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

#define SPACE(c) space_wide(c)

#define CH Py_UCS2
#define FN(name) name##_2
#include "_speedups_impl.h"
#undef CH
#undef FN

#define CH Py_UCS4
#define FN(name) name##_4
#include "_speedups_impl.h"
#undef CH
#undef FN

/* Does lower-casing s change its length? (Only U+0130 lower-cases to two characters; a test holds
 * the Unicode database of the running Python to that.) */
static int
lower_keeps_length(PyObject *s)
{
    if (PyUnicode_KIND(s) == PyUnicode_1BYTE_KIND)
        return 1;
    return PyUnicode_FindChar(s, 0x130, 0, PyUnicode_GET_LENGTH(s), 1) == -1;
}

/* ---- unescape: html.unescape(s), its tables handed over by configure() ---- */

static PyObject *html5 = NULL;             /* html.entities.html5 */
static PyObject *invalid_charrefs = NULL;  /* html._invalid_charrefs: int -> str */
static PyObject *invalid_codepoints = NULL; /* html._invalid_codepoints: set of int */

static PyObject *
configure(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3 || !PyDict_Check(args[0]) || !PyDict_Check(args[1]) || !PyAnySet_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "configure(html5: dict, invalid_charrefs: dict, invalid_codepoints: set)");
        return NULL;
    }
    Py_XSETREF(html5, Py_NewRef(args[0]));
    Py_XSETREF(invalid_charrefs, Py_NewRef(args[1]));
    Py_XSETREF(invalid_codepoints, Py_NewRef(args[2]));
    Py_RETURN_NONE;
}

typedef struct {
    Py_UCS4 *buf;
    Py_ssize_t len, cap;
} out_t;

static int
put(out_t *o, Py_UCS4 c)
{
    if (o->len == o->cap) {
        Py_ssize_t cap = o->cap * 2 + 16;
        Py_UCS4 *buf = PyMem_Realloc(o->buf, (size_t)cap * sizeof(Py_UCS4));
        if (buf == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        o->buf = buf;
        o->cap = cap;
    }
    o->buf[o->len++] = c;
    return 0;
}

static int
put_str(out_t *o, PyObject *str)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(str);
    int kind = PyUnicode_KIND(str);
    const void *data = PyUnicode_DATA(str);
    for (Py_ssize_t k = 0; k < n; k++) {
        if (put(o, PyUnicode_READ(kind, data, k)) < 0)
            return -1;
    }
    return 0;
}

static int
put_slice(out_t *o, int kind, const void *data, Py_ssize_t start, Py_ssize_t end)
{
    for (Py_ssize_t k = start; k < end; k++) {
        if (put(o, PyUnicode_READ(kind, data, k)) < 0)
            return -1;
    }
    return 0;
}

#define CODE_LIMIT 0x110000 /* numbers are read saturating here: all above 0x10FFFF read the same */

/* _replace_charref for "#..." : num -> what it stands for. */
static int
put_number(out_t *o, long num)
{
    PyObject *key = PyLong_FromLong(num);
    if (key == NULL)
        return -1;
    PyObject *mapped = PyDict_GetItemWithError(invalid_charrefs, key);
    if (mapped != NULL) {
        Py_DECREF(key);
        return put_str(o, mapped);
    }
    if (PyErr_Occurred()) {
        Py_DECREF(key);
        return -1;
    }
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) {
        Py_DECREF(key);
        return put(o, 0xFFFD);
    }
    int invalid = PySet_Contains(invalid_codepoints, key);
    Py_DECREF(key);
    if (invalid < 0)
        return -1;
    return invalid ? 0 : put(o, (Py_UCS4)num);
}

static int
hex_value(Py_UCS4 c)
{
    if (c >= '0' && c <= '9')
        return (int)(c - '0');
    if (c >= 'a' && c <= 'f')
        return (int)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F')
        return (int)(c - 'A' + 10);
    return -1;
}

static int
name_char(Py_UCS4 c)
{
    return !(c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' || c == ';');
}

/* *value = html5.get(s[start:x]) (borrowed; NULL when absent). */
static int
lookup(PyObject *s, Py_ssize_t start, Py_ssize_t x, PyObject **value)
{
    PyObject *name = PyUnicode_Substring(s, start, x);
    if (name == NULL)
        return -1;
    *value = PyDict_GetItemWithError(html5, name); /* borrowed */
    Py_DECREF(name);
    return *value == NULL && PyErr_Occurred() ? -1 : 0;
}

/* _replace_charref for a name (s[start:end], its ';' included when there is one): the entity it
 * names, else the entity its longest known prefix (of two characters or more) names, followed by the
 * rest, else itself. */
static int
put_named(out_t *o, PyObject *s, Py_ssize_t start, Py_ssize_t end)
{
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    PyObject *value;
    if (lookup(s, start, end, &value) < 0)
        return -1;
    if (value != NULL)
        return put_str(o, value);
    for (Py_ssize_t x = end - 1; x - start >= 2; x--) {
        if (lookup(s, start, x, &value) < 0)
            return -1;
        if (value != NULL) {
            if (put_str(o, value) < 0)
                return -1;
            return put_slice(o, kind, data, x, end);
        }
    }
    if (put(o, '&') < 0)
        return -1;
    return put_slice(o, kind, data, start, end);
}

static PyObject *
unescape(PyObject *module, PyObject *s)
{
    (void)module;
    if (!PyUnicode_Check(s)) {
        PyErr_SetString(PyExc_TypeError, "expected a str");
        return NULL;
    }
    if (html5 == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "unescape() before configure()");
        return NULL;
    }
    if (ready(s) < 0)
        return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (PyUnicode_FindChar(s, '&', 0, n, 1) == -1)
        return Py_NewRef(s);
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    out_t o = {PyMem_Malloc((size_t)(n + 16) * sizeof(Py_UCS4)), 0, n + 16};
    if (o.buf == NULL)
        return PyErr_NoMemory();
#define AT(k) PyUnicode_READ(kind, data, (k))
    Py_ssize_t i = 0;
    while (i < n) {
        Py_UCS4 c = AT(i);
        if (c != '&') {
            if (put(&o, c) < 0)
                goto fail;
            i++;
            continue;
        }
        Py_ssize_t j = i + 1;
        if (j < n && AT(j) == '#') {
            /* #[0-9]+;? | #[xX][0-9a-fA-F]+;? */
            Py_ssize_t k = j + 1;
            long num = 0;
            while (k < n && AT(k) >= '0' && AT(k) <= '9') {
                num = num * 10 + (long)(AT(k) - '0');
                if (num > CODE_LIMIT)
                    num = CODE_LIMIT;
                k++;
            }
            if (k == j + 1 && k < n && (AT(k) == 'x' || AT(k) == 'X')) {
                k++;
                Py_ssize_t digits = k;
                while (k < n && hex_value(AT(k)) >= 0) {
                    num = num * 16 + hex_value(AT(k));
                    if (num > CODE_LIMIT)
                        num = CODE_LIMIT;
                    k++;
                }
                if (k == digits)
                    k = j + 1; /* no hex digit: no match */
            }
            if (k == j + 1) { /* '&#' that starts no reference: the '&' is text */
                if (put(&o, '&') < 0)
                    goto fail;
                i = j;
                continue;
            }
            if (k < n && AT(k) == ';')
                k++;
            if (put_number(&o, num) < 0)
                goto fail;
            i = k;
            continue;
        }
        /* [^\t\n\f <&#;]{1,32};? */
        Py_ssize_t k = j;
        while (k < n && k - j < 32 && name_char(AT(k)))
            k++;
        if (k == j) {
            if (put(&o, '&') < 0)
                goto fail;
            i = j;
            continue;
        }
        if (k < n && AT(k) == ';')
            k++;
        if (put_named(&o, s, j, k) < 0)
            goto fail;
        i = k;
    }
#undef AT
    PyObject *result = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, o.buf, o.len);
    PyMem_Free(o.buf);
    return result;
fail:
    PyMem_Free(o.buf);
    return NULL;
}

/* fn_1, fn_2 or fn_4 (the loop for s's width) called with the arguments that follow. */
#define BY_KIND(kind, fn, ...)                                                                         \
    ((kind) == PyUnicode_1BYTE_KIND   ? fn##_1(__VA_ARGS__)                                            \
     : (kind) == PyUnicode_2BYTE_KIND ? fn##_2(__VA_ARGS__)                                            \
                                      : fn##_4(__VA_ARGS__))

typedef enum { STRIP, COLLAPSE } op_t;

static PyObject *
run(PyObject *s, op_t op)
{
    if (!PyUnicode_Check(s)) {
        PyErr_SetString(PyExc_TypeError, "expected a str");
        return NULL;
    }
    if (ready(s) < 0)
        return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    Py_ssize_t k = 0;
    if (op == COLLAPSE) {
        k = BY_KIND(kind, collapsed_upto, data, n);
        if (k == n) /* already collapsed (the empty string too) */
            return Py_NewRef(s);
    }
    if (n == 0)
        return PyUnicode_FromStringAndSize("", 0);
    void *out = PyMem_Malloc((size_t)n * (size_t)kind);
    if (out == NULL)
        return PyErr_NoMemory();
    Py_ssize_t o;
    if (op == STRIP) {
        o = BY_KIND(kind, strip, data, n, out, lower_keeps_length(s));
    }
    else {
        memcpy(out, data, (size_t)k * (size_t)kind);
        o = BY_KIND(kind, collapse, data, n, out, k);
    }
    PyObject *result;
    if (o < 0) { /* strip: the loop must decide */
        result = Py_NewRef(Py_None);
    }
    else {
        /* Narrows to the smallest kind that holds the result, as every str must be. */
        result = PyUnicode_FromKindAndData(kind, out, o);
    }
    PyMem_Free(out);
    return result;
}

static PyObject *
strip_tags(PyObject *module, PyObject *s)
{
    (void)module;
    return run(s, STRIP);
}

static PyObject *
collapse(PyObject *module, PyObject *s)
{
    (void)module;
    return run(s, COLLAPSE);
}

static PyObject *
count(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2 || !PyBytes_Check(args[0]) || !PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "count(data: bytes, needle: bytes)");
        return NULL;
    }
    const char *s = PyBytes_AS_STRING(args[0]);
    const char *needle = PyBytes_AS_STRING(args[1]);
    Py_ssize_t n = PyBytes_GET_SIZE(args[0]), m = PyBytes_GET_SIZE(args[1]);
    if (m == 0) {
        PyErr_SetString(PyExc_ValueError, "count() needs a non-empty needle");
        return NULL;
    }
    Py_ssize_t found = 0, i = 0;
    while (i + m <= n) { /* non-overlapping, like bytes.count */
        const char *at = memchr(s + i, needle[0], (size_t)(n - m + 1 - i));
        if (at == NULL)
            break;
        i = at - s;
        if (memcmp(at, needle, (size_t)m) == 0) {
            found++;
            i += m;
        }
        else {
            i++;
        }
    }
    return PyLong_FromSsize_t(found);
}

static PyMethodDef methods[] = {
    {"strip_tags", strip_tags, METH_O,
     "strip_tags(s) -> normalise._strip_tags_loop(s), or None when that loop must decide."},
    {"collapse", collapse, METH_O, "collapse(s) -> ' '.join(s.split())"},
    {"unescape", unescape, METH_O, "unescape(s) -> html.unescape(s), once configure() has its tables."},
    {"count", (PyCFunction)(void (*)(void))count, METH_FASTCALL,
     "count(data, needle) -> data.count(needle) (bytes; a non-empty needle)."},
    {"configure", (PyCFunction)(void (*)(void))configure, METH_FASTCALL,
     "configure(html5, invalid_charrefs, invalid_codepoints): html.unescape's tables."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "bot.parse._speedups",
    "The hot string loops of bot.parse, in C (an optional accelerator).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    for (int c = 0; c < 256; c++)
        space_1[c] = (unsigned char)Py_UNICODE_ISSPACE(c);
    add_names(DROP, IS_DROP);
    add_names(BLOCK, IS_BLOCK);
    return PyModule_Create(&module);
}
