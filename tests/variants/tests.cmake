# The sm80 and sm90 variant tests run the CUDA templates on the CPU emulator: the same shadow
# template folders as tests/emu (emu_shadow.cmake and emu_shadow_sm90.cmake, included for
# tests/emu before this folder).
if(TARGET test_variants AND DEFINED emu_shadow)
  target_include_directories(test_variants BEFORE PRIVATE ${emu_shadow} ${emu90_shadow})
endif()
