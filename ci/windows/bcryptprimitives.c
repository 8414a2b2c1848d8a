/* A stand-in for Windows 10's bcryptprimitives.dll, for running customcd's Windows build under
 * Wine 8 (ci/e2e-windows.sh), whose builtin copy lacks ProcessPrng. Rust's std (1.78 and later)
 * gets its random numbers (HashMap keys, tempfile names) from ProcessPrng and fails to load
 * without it (c0000135). This DLL is test scaffolding only: it is never shipped, and a real
 * Windows has the real function.
 *
 * ProcessPrng(buffer, length) fills the buffer and always returns TRUE (Microsoft documents that
 * it cannot fail); here it is RtlGenRandom (advapi32's SystemFunction036), which Wine implements
 * from the host's random source.
 *
 * Build: x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll bcryptprimitives.c -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
