# The fleet tests: deploy/tune-array.slurm run for real on a one-node Slurm cluster that
# cluster.sh starts and stops around each test (munged, slurmctld, slurmd as its own processes),
# and deploy/tune-job.yaml checked against the Kubernetes schema and the Slurm script's shards.
# Exit 77 = skipped (packages missing; scripts/setup.sh installs them). One at a time: each
# array wants the node's 4 CPUs.
set(_slurm_dir ${CMAKE_CURRENT_LIST_DIR})
set(_slurm_env ATTNJIT=$<TARGET_FILE:attnjit-cli> ATTNJIT_SOURCE_DIR=${CMAKE_SOURCE_DIR})
set(_slurm_tests array faults)
if(ATTNJIT_WITH_SERVICE)
  list(APPEND _slurm_tests post)  # needs `attnjit serve` and `attnjit push`
endif()
foreach(_t ${_slurm_tests})
  add_test(NAME slurm_${_t} COMMAND ${_slurm_dir}/cluster.sh ${_slurm_dir}/${_t}_test.sh)
  set_tests_properties(slurm_${_t} PROPERTIES LABELS slurm ENVIRONMENT "${_slurm_env}"
                       SKIP_RETURN_CODE 77 RESOURCE_LOCK slurm_cluster TIMEOUT 900)
endforeach()
add_test(NAME slurm_k8s_job COMMAND ${_slurm_dir}/k8s_job_test.sh)
set_tests_properties(slurm_k8s_job PROPERTIES LABELS slurm ENVIRONMENT "${_slurm_env}"
                     SKIP_RETURN_CODE 77 TIMEOUT 120)
