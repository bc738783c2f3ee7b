"""kube-scheduler's default profile simulated: scheduling cycle and DefaultPreemption."""
